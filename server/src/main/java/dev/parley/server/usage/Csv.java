package dev.parley.server.usage;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * RFC 4180 records read with jackson-dataformat-csv: comma-separated fields, double quotes around fields that hold
 * commas, quotes or line breaks ({@code ""} inside a quoted field is one quote), and CRLF, LF or CR line ends. A
 * leading byte-order mark, blank lines and, when asked, lines starting with {@code #} are skipped.
 */
final class Csv {
    private static final CsvMapper PLAIN = new CsvMapper();
    private static final CsvMapper COMMENTED = CsvMapper.builder().enable(CsvParser.Feature.ALLOW_COMMENTS).build();
    private static final String UNCLOSED_QUOTE = "Missing closing quote";

    private Csv() {
    }

    /** A record and the 1-based line where it starts. */
    record Line(int number, List<String> fields) {
    }

    /** Text that is not CSV: an unterminated quoted field, or a character after a closing quote. */
    static final class MalformedCsvException extends RuntimeException {
        private final int line;

        MalformedCsvException(int line, String message) {
            super(message);
            this.line = line;
        }

        int line() {
            return line;
        }
    }

    /** Reads at most {@code maxRecords} records (one more is read so that the caller can tell the limit was passed). */
    static List<Line> read(String text, boolean skipComments, int maxRecords) {
        String body = text.startsWith("\uFEFF") ? text.substring(1) : text;
        List<Line> records = new ArrayList<>();
        int recordStart = 1;
        try (CsvParser parser = (skipComments ? COMMENTED : PLAIN).getFactory().createParser(body)) {
            List<String> fields = new ArrayList<>();
            for (JsonToken token = parser.nextToken(); token != null && records.size() <= maxRecords;
                    token = parser.nextToken()) {
                switch (token) {
                    case START_ARRAY -> {
                        recordStart = parser.currentLocation().getLineNr();
                        fields = new ArrayList<>();
                    }
                    case END_ARRAY -> {
                        boolean blank = fields.size() == 1 && fields.getFirst().isBlank();
                        if (!blank && !fields.isEmpty()) {
                            records.add(new Line(recordStart, List.copyOf(fields)));
                        }
                    }
                    default -> fields.add(parser.getText());
                }
            }
        } catch (JsonParseException e) {
            String reason = e.getOriginalMessage();
            throw new MalformedCsvException(recordStart, reason.startsWith(UNCLOSED_QUOTE)
                    ? "a quoted field that starts on line " + recordStart + " is never closed"
                    : "the record that starts on line " + recordStart + " cannot be read ("
                            + reason.lines().findFirst().orElse(reason) + ")");
        } catch (IOException e) {
            throw new UncheckedIOException("Reading CSV from a string failed", e);
        }
        return records;
    }
}

package dev.parley.server.usage;

import java.util.ArrayList;
import java.util.List;

/**
 * An RFC 4180 reader: comma-separated fields, double quotes around fields that hold commas, quotes or line breaks
 * ({@code ""} inside a quoted field is one quote), and CRLF, LF or CR line ends. Blank lines and, when asked, lines
 * starting with {@code #} are skipped.
 */
final class Csv {
    private Csv() {
    }

    /** A record and the 1-based line where it starts. */
    record Line(int number, List<String> fields) {
    }

    /** An unterminated quoted field. */
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
        List<Line> records = new ArrayList<>();
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        int line = 1;
        int recordStart = 1;
        boolean quoted = false;
        boolean fieldWasQuoted = false;
        int i = 0;
        int length = text.length();
        if (length > 0 && text.charAt(0) == '\uFEFF') {
            i = 1;
        }
        while (i < length && records.size() <= maxRecords) {
            char c = text.charAt(i);
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < length && text.charAt(i + 1) == '"') {
                        field.append('"');
                        i += 2;
                        continue;
                    }
                    quoted = false;
                } else {
                    if (c == '\n' || (c == '\r' && (i + 1 >= length || text.charAt(i + 1) != '\n'))) {
                        line++;
                    }
                    field.append(c);
                }
                i++;
                continue;
            }
            switch (c) {
                case '"' -> {
                    if (field.isEmpty() && !fieldWasQuoted) {
                        quoted = true;
                        fieldWasQuoted = true;
                    } else {
                        field.append(c);
                    }
                    i++;
                }
                case ',' -> {
                    fields.add(field.toString());
                    field.setLength(0);
                    fieldWasQuoted = false;
                    i++;
                }
                case '\r', '\n' -> {
                    fields.add(field.toString());
                    field.setLength(0);
                    fieldWasQuoted = false;
                    addRecord(records, fields, recordStart, skipComments);
                    fields = new ArrayList<>();
                    i += (c == '\r' && i + 1 < length && text.charAt(i + 1) == '\n') ? 2 : 1;
                    line++;
                    recordStart = line;
                }
                default -> {
                    field.append(c);
                    i++;
                }
            }
        }
        if (quoted) {
            throw new MalformedCsvException(recordStart, "a quoted field that starts on line " + recordStart + " is never closed");
        }
        if (!field.isEmpty() || !fields.isEmpty() || fieldWasQuoted) {
            fields.add(field.toString());
            addRecord(records, fields, recordStart, skipComments);
        }
        return records;
    }

    private static void addRecord(List<Line> records, List<String> fields, int line, boolean skipComments) {
        boolean blank = fields.size() == 1 && fields.getFirst().isBlank();
        boolean comment = skipComments && !fields.isEmpty() && fields.getFirst().startsWith("#");
        if (!blank && !comment) {
            records.add(new Line(line, List.copyOf(fields)));
        }
    }
}

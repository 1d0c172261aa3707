package dev.parley.server.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class CsvTest {

    @Test
    void readsQuotedFieldsEveryLineEndAndTheLineEachRecordStartsOn() {
        String text = "\uFEFFa,b\r\nc,\"d\ne\"\rf,\"say \"\"hi\"\", then, go\"\n\n   \ng,\n";

        List<Csv.Line> lines = Csv.read(text, false, 100);

        assertThat(lines).containsExactly(
                new Csv.Line(1, List.of("a", "b")),
                new Csv.Line(2, List.of("c", "d\ne")),
                new Csv.Line(4, List.of("f", "say \"hi\", then, go")),
                new Csv.Line(7, List.of("g", "")));
    }

    @Test
    void skipsCommentLinesOnlyWhenAsked() {
        String text = "# catalog_as_of: 2026-11-01\nprovider,model\n#note,x\nopenai,gpt-4o\n";

        assertThat(Csv.read(text, true, 100)).extracting(Csv.Line::fields)
                .containsExactly(List.of("provider", "model"), List.of("openai", "gpt-4o"));
        assertThat(Csv.read(text, false, 100)).extracting(Csv.Line::fields)
                .contains(List.of("#note", "x"));
    }

    @Test
    void stopsOneRecordPastTheLimit() {
        String text = "h\n" + "x\n".repeat(10);

        assertThat(Csv.read(text, false, 3)).hasSize(4);
    }

    @Test
    void anUnclosedQuoteNamesTheLineItsRecordStartsOn() {
        assertThatThrownBy(() -> Csv.read("a,b\nc,\"x\ny\"\ne,\"unclosed\nmore\n", false, 100))
                .isInstanceOfSatisfying(Csv.MalformedCsvException.class, e -> {
                    assertThat(e.line()).isEqualTo(4);
                    assertThat(e.getMessage()).isEqualTo("a quoted field that starts on line 4 is never closed");
                });
    }

    @Test
    void textAfterAClosingQuoteIsMalformed() {
        assertThatThrownBy(() -> Csv.read("a,b\n\"ab\"c,d\n", false, 100))
                .isInstanceOfSatisfying(Csv.MalformedCsvException.class, e -> {
                    assertThat(e.line()).isEqualTo(2);
                    assertThat(e.getMessage()).startsWith("the record that starts on line 2 cannot be read (");
                });
    }
}

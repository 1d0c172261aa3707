package dev.parley.server.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.testing.MutableClock;
import java.math.BigDecimal;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class UsageIngestTest {
    private final UsageIngest ingest = new UsageIngest(PriceCatalog.bundled(),
            new MutableClock(Instant.parse("2026-11-28T12:00:00Z")));

    @Test
    void readsJsonArraysAndPricesRowsWithoutCost() {
        String body = """
                [{"occurred_at":"2026-11-02T14:05:00Z","provider":"OpenAI","model":"GPT-4o-mini","feature":"Support_Chat",
                  "input_tokens":1000,"output_tokens":100,"latency_ms":850},
                 {"occurred_at":"2026-11-02T15:00:00+01:00","provider":"anthropic","model":"claude-haiku-4-5",
                  "input_tokens":"2000","output_tokens":"300","cost_usd":0.0035}]
                """;
        UsageIngest.Result result = ingest.read(body, UsageIngest.Format.JSON);

        assertThat(result.rejected()).isEmpty();
        assertThat(result.accepted()).hasSize(2);
        UsageRow first = result.accepted().getFirst();
        assertThat(first.provider()).isEqualTo("openai");
        assertThat(first.model()).isEqualTo("gpt-4o-mini");
        assertThat(first.feature()).isEqualTo("support_chat");
        assertThat(first.latencyMs()).isEqualTo(850);
        assertThat(first.costUsd()).isEqualByComparingTo("0.00021");
        UsageRow second = result.accepted().get(1);
        assertThat(second.occurredAt()).isEqualTo(Instant.parse("2026-11-02T14:00:00Z"));
        assertThat(second.feature()).isEqualTo("untagged");
        assertThat(second.latencyMs()).isNull();
        assertThat(second.costUsd()).isEqualByComparingTo("0.0035");
    }

    @Test
    void readsCsvWithHeaderAliasesQuotesAndCrlf() {
        String body = "timestamp,provider,model,feature_tag,prompt_tokens,completion_tokens,latency_ms,cost\r\n"
                + "2026-11-03 09:00:00,google,gemini-2.5-flash,\"search, answers\",4000,300,620,\r\n"
                + "2026-11-03,openai,gpt-4o,support_chat,2500,320,1900,0.01\r\n";
        UsageIngest.Result result = ingest.read(body, UsageIngest.detect("text/csv", body));

        assertThat(result.rejected()).isEmpty();
        assertThat(result.accepted()).extracting(UsageRow::feature).containsExactly("search, answers", "support_chat");
        assertThat(result.accepted().getFirst().costUsd()).isEqualByComparingTo(
                new BigDecimal("0.30").multiply(BigDecimal.valueOf(4000)).add(new BigDecimal("2.50").multiply(BigDecimal.valueOf(300)))
                        .divide(BigDecimal.valueOf(1_000_000)));
        assertThat(result.accepted().get(1).occurredAt()).isEqualTo(Instant.parse("2026-11-03T00:00:00Z"));
    }

    @Test
    void reportsEachRejectedRowWithItsNumberAndReason() {
        String body = """
                occurred_at,provider,model,input_tokens,output_tokens,latency_ms,cost_usd
                2026-11-02T10:00:00Z,openai,gpt-4o-mini,100,10,500,
                yesterday,openai,gpt-4o-mini,100,10,500,
                2026-11-02T10:00:00Z,openai,gpt-4o-mini,-5,10,500,
                2026-11-02T10:00:00Z,acme,acme-large,100,10,500,
                2026-11-02T10:00:00Z,openai,gpt-4o-mini,100,10
                2030-01-01T00:00:00Z,openai,gpt-4o-mini,100,10,500,
                2026-11-02T10:00:00Z,openai,gpt-4o-mini,1.5,10,500,
                2026-11-02T10:00:00Z,acme,acme-large,100,10,500,0.002
                """;
        UsageIngest.Result result = ingest.read(body, UsageIngest.Format.CSV);

        assertThat(result.accepted()).hasSize(2);
        assertThat(result.rejected()).extracting(UsageIngest.Rejection::row).containsExactly(2, 3, 4, 5, 6, 7);
        assertThat(result.rejected().get(0).error()).contains("occurred_at must be an ISO-8601 time");
        assertThat(result.rejected().get(1).error()).contains("input_tokens must be between 0");
        assertThat(result.rejected().get(2).error()).contains("no price for acme/acme-large");
        assertThat(result.rejected().get(3).error()).contains("has 5 fields but the header has 7");
        assertThat(result.rejected().get(4).error()).contains("in the future");
        assertThat(result.rejected().get(5).error()).contains("whole number");
    }

    @Test
    void refusesBodiesThatCannotBeReadAtAll() {
        assertThatThrownBy(() -> ingest.read("provider,model\nopenai,gpt-4o\n", UsageIngest.Format.CSV))
                .isInstanceOfSatisfying(ProtocolException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_REQUEST);
                    assertThat(e.getMessage()).contains("occurred_at", "input_tokens", "output_tokens");
                });
        assertThatThrownBy(() -> ingest.read("{\"occurred_at\":1}", UsageIngest.Format.JSON))
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_REQUEST));
        assertThatThrownBy(() -> ingest.read("[{", UsageIngest.Format.JSON))
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_JSON));
        assertThatThrownBy(() -> ingest.read("occurred_at,\"provider\n", UsageIngest.Format.CSV))
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.getMessage()).contains("never closed"));
        assertThatThrownBy(() -> ingest.read("  ", UsageIngest.Format.CSV))
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_REQUEST));
    }

    @Test
    void refusesUploadsOverTheRowLimit() {
        StringBuilder csv = new StringBuilder("occurred_at,provider,model,input_tokens,output_tokens\n");
        String line = "2026-11-02T10:00:00Z,openai,gpt-4o-mini,100,10\n";
        csv.append(line.repeat(UsageIngest.MAX_ROWS + 1));
        assertThatThrownBy(() -> ingest.read(csv.toString(), UsageIngest.Format.CSV))
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.MESSAGE_TOO_LARGE));
    }

    @Test
    void jsonRecordsThatAreNotObjectsOrHoldNestedValuesAreRejectedOneByOne() {
        String body = "[1, {\"occurred_at\":\"2026-11-02T10:00:00Z\",\"provider\":\"openai\",\"model\":{\"x\":1},"
                + "\"input_tokens\":1,\"output_tokens\":1}]";
        UsageIngest.Result result = ingest.read(body, UsageIngest.detect(null, body));
        assertThat(result.rejected()).extracting(UsageIngest.Rejection::row).containsExactly(1, 2);
        assertThat(result.rejected().get(1).error()).contains("model must be a string or a number");
    }
}

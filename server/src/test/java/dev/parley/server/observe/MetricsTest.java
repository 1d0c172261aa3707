package dev.parley.server.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class MetricsTest {
    @Test
    void seriesAreKeptByTheirLabelValuesAndRenderedSortedAndEscaped() {
        Metrics metrics = new Metrics();
        String[] labels = {"type", "agent_started", "note", "say \"hi\"\n"};
        metrics.increment("parley_events_total", "Events.", labels);
        labels[1] = "changed after the call";
        metrics.increment("parley_events_total", "Events.", "type", "agent_started", "note", "say \"hi\"\n");
        metrics.add("parley_events_total", "Events.", 5, "type", "agent_completed", "note", "");
        metrics.observeSeconds("parley_turn_seconds", "Turns.", 0.003, "outcome", "completed");

        assertThat(metrics.counter("parley_events_total", "type", "agent_started", "note", "say \"hi\"\n")).isEqualTo(2);
        assertThat(metrics.counter("parley_events_total", "type", "agent_completed", "note", "")).isEqualTo(5);
        String text = metrics.scrape();
        assertThat(text).contains("parley_events_total{type=\"agent_completed\",note=\"\"} 5\n"
                + "parley_events_total{type=\"agent_started\",note=\"say \\\"hi\\\"\\n\"} 2\n");
        assertThat(text).contains("parley_turn_seconds_bucket{outcome=\"completed\",le=\"0.002500\"} 0\n"
                + "parley_turn_seconds_bucket{outcome=\"completed\",le=\"0.005000\"} 1\n");
        assertThat(text).contains("parley_turn_seconds_count{outcome=\"completed\"} 1\n");
    }

    @Test
    void labelsComeInPairs() {
        assertThatThrownBy(() -> new Metrics().increment("x_total", "X.", "type"))
                .isInstanceOf(IllegalArgumentException.class);
    }
}

package dev.parley.server.fanout;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BusMessageTest {
    @Test
    void aRunEventAndAnEventOutsideRunsSurviveTheTrip() {
        Envelope run = new Envelope("partial_result", "run-1", 42, "{\"type\":\"partial_result\",\"data\":{\"delta\":\"a\\nb\"}}");
        BusMessage back = BusMessage.decode(new BusMessage("instance-a", run).encode()).orElseThrow();
        assertThat(back.instanceId()).isEqualTo("instance-a");
        assertThat(back.event()).isEqualTo(run);

        Envelope notice = new Envelope("auth_expiring", null, 0, "{}\n{}");
        assertThat(BusMessage.decode(new BusMessage("b", notice).encode()).orElseThrow().event()).isEqualTo(notice);
    }

    @Test
    void somethingElseOnTheChannelIsNotAMessage() {
        assertThat(BusMessage.decode("hello")).isEmpty();
        assertThat(BusMessage.decode("a\nb\nc\nnot-a-number\n{}")).isEmpty();
    }
}

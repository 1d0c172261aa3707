package dev.parley.server.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.fanout.Envelope;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The seam between a replay and the live events of the same run, without a socket: what is sent, held and dropped. */
class ResumeSeamTest {
    private final List<String> sent = new ArrayList<>();
    private final ResumeSeam.Output output = new ResumeSeam.Output() {
        @Override
        public boolean offer(String wire) {
            sent.add(wire);
            return true;
        }

        @Override
        public void put(String wire) {
            sent.add(wire);
        }
    };

    private static Envelope event(String run, long seq) {
        return new Envelope(seq == 9 ? "agent_completed" : "agent_thinking", run, seq, run + "#" + seq);
    }

    @Test
    void liveEventsOfAReplayingRunWaitAndOnlyThoseAfterTheReplayGoOut() throws Exception {
        ResumeSeam seam = new ResumeSeam(1 << 20, false);
        seam.begin("r");
        assertThat(seam.live(event("r", 3), output)).isTrue();
        assertThat(seam.live(event("r", 4), output)).isTrue();
        assertThat(seam.live(event("other", 1), output)).isTrue();
        assertThat(sent).containsExactly("other#1");

        seam.finish("r", 3, output);
        assertThat(sent).containsExactly("other#1", "r#4");

        assertThat(seam.live(event("r", 4), output)).isTrue();
        assertThat(seam.live(event("r", 5), output)).isTrue();
        assertThat(sent).containsExactly("other#1", "r#4", "r#5");
    }

    @Test
    void anEventTheReplayCarriedIsNotSentAgainWhenItArrivesLiveLater() throws Exception {
        ResumeSeam seam = new ResumeSeam(1 << 20, false);
        seam.begin("r");
        seam.finish("r", 6, output);
        seam.live(event("r", 5), output);
        seam.live(event("r", 6), output);
        seam.live(event("r", 7), output);
        seam.live(event("r", 9), output);
        assertThat(sent).containsExactly("r#7", "r#9");
    }

    @Test
    void heldEventsPastTheLimitMakeTheSocketASlowConsumerAndAnAbandonedReplayFreesThem() {
        ResumeSeam seam = new ResumeSeam(5, false);
        seam.begin("r");
        assertThat(seam.live(event("r", 1), output)).isTrue();
        assertThat(seam.live(event("r", 2), output)).as("over 5 bytes held").isFalse();
        seam.abandon("r");
        seam.begin("s");
        assertThat(seam.live(event("s", 1), output)).as("the abandoned replay's bytes were given back").isTrue();
        assertThat(sent).isEmpty();
    }

    @Test
    void aFullSendQueueIsReported() {
        ResumeSeam seam = new ResumeSeam(1 << 20, false);
        ResumeSeam.Output full = new ResumeSeam.Output() {
            @Override
            public boolean offer(String wire) {
                return false;
            }

            @Override
            public void put(String wire) {
                throw new AssertionError("not during live delivery");
            }
        };
        assertThat(seam.live(event("r", 1), full)).isFalse();
    }
}

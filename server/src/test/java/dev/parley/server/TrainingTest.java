package dev.parley.server;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TrainingTest {
    @Test
    void theTrainingWorkloadRunsEveryTurnOfEveryClientAgainstARealServer() {
        // Each turn waits for its agent_completed and fails on an error frame, so the count is what completed.
        assertThat(new Training(3).run()).isEqualTo(3 * Training.CLIENTS);
    }
}

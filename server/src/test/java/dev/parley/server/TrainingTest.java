package dev.parley.server;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TrainingTest {
    @Test
    void theTrainingWorkloadRunsEveryTurnOfEveryClientAgainstARealServer() {
        // Counted from the agent_completed frames of each turn's own run; an error frame or a missing one fails the run.
        assertThat(new Training(3).run()).isEqualTo(3 * Training.CLIENTS);
    }
}

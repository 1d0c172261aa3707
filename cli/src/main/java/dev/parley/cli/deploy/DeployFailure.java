package dev.parley.cli.deploy;

import java.util.List;
import java.util.Optional;

/**
 * A deploy step that failed: its exit class, one line saying what is wrong, and what the operator should do.
 * Thrown by the step, turned into output and an exit code in one place ({@link DeployReport}).
 */
final class DeployFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final DeployExit exit;
    private final List<String> nextSteps;
    /** What the failing step learned before it failed, when the summary should report it. */
    private final transient DeployState state;

    DeployFailure(DeployExit exit, String message, List<String> nextSteps) {
        this(exit, message, nextSteps, null);
    }

    DeployFailure(DeployExit exit, String message, List<String> nextSteps, DeployState state) {
        super(message);
        this.exit = exit;
        this.nextSteps = List.copyOf(nextSteps);
        this.state = state;
    }

    DeployFailure(DeployExit exit, String message, String nextStep) {
        this(exit, message, List.of(nextStep));
    }

    DeployExit exit() {
        return exit;
    }

    List<String> nextSteps() {
        return nextSteps;
    }

    /** This failure, reporting {@code known} as what the deploy had learned unless it already reports a state. */
    DeployFailure knowing(DeployState known) {
        return state != null ? this : new DeployFailure(exit, getMessage(), nextSteps, known);
    }

    Optional<DeployState> state() {
        return Optional.ofNullable(state);
    }
}

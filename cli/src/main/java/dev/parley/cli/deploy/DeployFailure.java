package dev.parley.cli.deploy;

import java.util.List;

/**
 * A deploy step that failed: its exit class, one line saying what is wrong, and what the operator should do.
 * Thrown by the step, turned into output and an exit code in one place ({@link Deployment#run()}).
 */
final class DeployFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final DeployExit exit;
    private final List<String> nextSteps;

    DeployFailure(DeployExit exit, String message, List<String> nextSteps) {
        super(message);
        this.exit = exit;
        this.nextSteps = List.copyOf(nextSteps);
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
}

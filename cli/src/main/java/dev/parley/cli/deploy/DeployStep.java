package dev.parley.cli.deploy;

/**
 * One step of a deploy, in order: {@link PreflightStep}, {@link ImageStep}, {@link ReadServiceStep},
 * {@link DeployRevisionStep}, {@link AwaitReadyStep}, {@link ValidateStep}, {@link PromoteStep}. A step reads the
 * state the earlier ones left, returns it with what it found, and fails with a {@link DeployFailure} that names its
 * exit class. Only the last one changes which revision serves traffic.
 */
interface DeployStep {

    /** The step's progress heading, from what is known when it starts. */
    String title(DeployState state);

    DeployState run(DeployState state);
}

package dev.parley.cli.deploy;

/**
 * The exit codes of {@code parley deploy}, one per failure class, so that scripts can tell "fix the setup" (3-8)
 * from "the build broke" (9) from "the new revision is bad" (10-12) and "traffic could not move" (13).
 * docs/operations.md lists the same table; a test keeps the two in step.
 */
public enum DeployExit {
    OK(0, "deployed, validated and serving all traffic (with --no-traffic: validated, waiting for promotion)"),
    INTERNAL(1, "an unexpected error in parley deploy itself"),
    USAGE(2, "bad arguments"),
    NO_GCLOUD(3, "gcloud is not installed or not on PATH"),
    NOT_AUTHENTICATED(4, "gcloud has no active account"),
    PROJECT_UNREACHABLE(5, "the project does not exist or the account cannot see it"),
    API_DISABLED(6, "a required Google Cloud API is not enabled in the project"),
    SECRET_MISSING(7, "a required Secret Manager secret does not exist"),
    REPOSITORY_MISSING(8, "the Artifact Registry repository to push to does not exist"),
    BUILD_FAILED(9, "the image could not be built or pushed"),
    DEPLOY_FAILED(10, "Cloud Run refused the new revision, or the service could not be read"),
    REVISION_NOT_READY(11, "the new revision did not become Ready"),
    VALIDATION_FAILED(12, "the new revision failed validation; traffic was not moved"),
    TRAFFIC_FAILED(13, "moving traffic to the validated revision failed");

    private final int code;
    private final String meaning;

    DeployExit(int code, String meaning) {
        this.code = code;
        this.meaning = meaning;
    }

    public int code() {
        return code;
    }

    public String meaning() {
        return meaning;
    }
}

package dev.parley.cli.deploy;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * What a deploy has learned so far, handed from step to step: each step returns a new state with what it found. A
 * value is null (a list empty) until the step that finds it has run; the summary reports whatever is known.
 *
 * @param gcloud         the gcloud found on PATH (preflight)
 * @param account        the active gcloud account (preflight)
 * @param projectNumber  the project's number (preflight)
 * @param image          the image deployed: the given reference, or the pushed one with its digest (image)
 * @param newService     whether the service did not exist before this deploy (service)
 * @param trafficBefore  who served traffic before (service)
 * @param serviceUrl     the service's URL (service, deploy, traffic)
 * @param revision       the new revision (deploy)
 * @param tagUrl         the new revision's own URL under its tag (deploy)
 * @param validation     how the validator ended (validate)
 * @param trafficAfter   who serves traffic after the move (traffic)
 */
record DeployState(Gcloud gcloud, String account, String projectNumber, String image, boolean newService,
                   List<TrafficTarget> trafficBefore, String serviceUrl, String revision, String tagUrl,
                   Validation validation, List<TrafficTarget> trafficAfter) {

    /** How the validator ended, and where its reports are. */
    record Validation(int exitCode, Path report, Path json) {
    }

    DeployState {
        trafficBefore = List.copyOf(trafficBefore);
        trafficAfter = List.copyOf(trafficAfter);
    }

    /** Nothing known yet. */
    static DeployState start() {
        return new DeployState(null, null, null, null, false, List.of(), null, null, null, null, List.of());
    }

    DeployState withPreflight(Gcloud gcloud, String account, String projectNumber) {
        return new DeployState(gcloud, account, projectNumber, image, newService, trafficBefore, serviceUrl, revision,
                tagUrl, validation, trafficAfter);
    }

    DeployState withImage(String image) {
        return new DeployState(gcloud, account, projectNumber, image, newService, trafficBefore, serviceUrl, revision,
                tagUrl, validation, trafficAfter);
    }

    DeployState withService(boolean newService, List<TrafficTarget> trafficBefore, String serviceUrl) {
        return new DeployState(gcloud, account, projectNumber, image, newService, trafficBefore, serviceUrl, revision,
                tagUrl, validation, trafficAfter);
    }

    DeployState withRevision(String revision, String tagUrl, String serviceUrl) {
        return new DeployState(gcloud, account, projectNumber, image, newService, trafficBefore, serviceUrl, revision,
                tagUrl, validation, trafficAfter);
    }

    DeployState withValidation(Validation validation) {
        return new DeployState(gcloud, account, projectNumber, image, newService, trafficBefore, serviceUrl, revision,
                tagUrl, validation, trafficAfter);
    }

    DeployState withTrafficAfter(List<TrafficTarget> trafficAfter, String serviceUrl) {
        return new DeployState(gcloud, account, projectNumber, image, newService, trafficBefore, serviceUrl, revision,
                tagUrl, validation, trafficAfter);
    }

    /** One line on where traffic stands after a failure: nothing before the last step moves it. */
    String trafficStatement() {
        if (newService) {
            return "Traffic: the service did not exist before this deploy.";
        }
        return "Traffic is unchanged: " + TrafficTarget.describe(trafficBefore) + ".";
    }

    /** The command that puts the traffic split back as it was, once it has moved. */
    Optional<String> rollback(DeployOptions options) {
        if (trafficBefore.isEmpty() || trafficAfter.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(Gcloud.line(List.of("run", "services", "update-traffic", options.service(), "--project",
                options.project(), "--region", options.region(), "--to-revisions", trafficBefore.stream()
                        .map(t -> t.revision() + "=" + t.percent()).collect(Collectors.joining(",")))));
    }
}

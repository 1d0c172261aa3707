package dev.parley.cli.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/** One entry of a service's traffic split. */
record TrafficTarget(String revision, int percent, String tag) {

    /** The entries of a service (as {@code gcloud run services describe --format=json} prints it) that get traffic. */
    static List<TrafficTarget> serving(JsonNode service) {
        List<TrafficTarget> targets = new ArrayList<>();
        for (JsonNode target : service.path("status").path("traffic")) {
            int percent = target.path("percent").asInt(0);
            if (percent > 0) {
                targets.add(new TrafficTarget(target.path("revisionName").asText(), percent,
                        target.hasNonNull("tag") ? target.path("tag").asText() : null));
            }
        }
        return List.copyOf(targets);
    }

    static String describe(List<TrafficTarget> targets) {
        return targets.isEmpty() ? "no revision"
                : targets.stream().map(TrafficTarget::toString).collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return revision + " " + percent + "%" + (tag == null ? "" : " (tag " + tag + ")");
    }
}

package dev.parley.cli.validate;

import dev.parley.client.ApiResponse;
import dev.parley.client.ParleySocket;
import dev.parley.client.ParleySocket.Received;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.protocol.MessageType;
import java.util.List;
import java.util.UUID;
import java.util.function.Supplier;

/**
 * {@code isolation}: a second user, B, with a socket open while the first user, A, runs the agent. B's socket must
 * receive none of A's events; over HTTP, B gets 404 for A's thread, its messages, A's run and its events, and A's
 * thread is not in B's list; on the socket, B's {@code resume} of A's run gets {@code resume_failed}, B's
 * {@code stop_agent} of it gets {@code run_not_found}, and B's {@code start_agent} in A's thread gets
 * {@code thread_not_found}.
 */
final class IsolationCheck {
    private IsolationCheck() {
    }

    static void run(Target target, Probe probe) {
        Target.Registration registration = target.register("b");
        probe.measure("register_b_http_ms", registration.answer().elapsed().toMillis());
        if (!registration.ok()) {
            throw probe.fail("a second user registered (POST /auth/register answers 201)", registration.describe());
        }
        Account a = target.primary;
        Account b = registration.account();
        try (ParleySocket socketB = target.open(b); ParleySocket socketA = target.open(a)) {
            RunChecks.awaitWelcome(probe, socketB, target.timeout);
            RunChecks.awaitWelcome(probe, socketA, target.timeout);
            RunCapture run = RunCapture.start(probe, socketA, Target.GOLDEN_REQUEST, null, target.timeout);
            run.awaitTerminal(probe, target.timeout);
            probe.measure("a_run_events", run.events().size());
            // A ping answered on B's socket after A's run ended: whatever the server sent B before, B has.
            Frames.barrier(probe, socketB, target.timeout);
            expectNothingOf(probe, socketB, run, "during A's run");

            String token = b.accessToken();
            expect404(probe, "GET /api/threads/{A's thread}", () -> target.http.thread(token, run.threadId()));
            expect404(probe, "GET /api/threads/{A's thread}/messages", () -> target.http.messages(token, run.threadId()));
            expect404(probe, "GET /api/runs/{A's run}", () -> target.http.run(token, run.runId()));
            expect404(probe, "GET /api/runs/{A's run}/events", () -> target.http.runEvents(token, run.runId(), 0));
            ApiResponse list = target.http.threads(token);
            probe.expect(list.status() == 200 && !list.body().contains(run.threadId()),
                    "B's GET /api/threads answers 200 without A's thread",
                    () -> list.status() + " " + Frames.excerpt(list.body()));

            int mark = socketB.frameCount();
            socketB.send(MessageType.RESUME.wireName(), Json.object().put("run_id", run.runId()).put("last_seq", 0),
                    "validate-isolation-resume");
            Received resumeAnswer = Frames.await(probe, socketB, mark, f -> f.type().equals(EventType.RESUME_FAILED)
                            || f.type().equals(EventType.RESUMED) || f.type().equals(EventType.ERROR),
                    "resume_failed {run_id, reason} answering B's resume of A's run", target.timeout);
            probe.expect(resumeAnswer.type().equals(EventType.RESUME_FAILED)
                            && run.runId().equals(resumeAnswer.event().data().path("run_id").asText("")),
                    "resume_failed {run_id, reason} answering B's resume of A's run", () -> Frames.excerpt(resumeAnswer));

            mark = socketB.frameCount();
            socketB.send(MessageType.STOP_AGENT.wireName(), Json.object().put("run_id", run.runId()),
                    "validate-isolation-stop");
            Received stopAnswer = Frames.await(probe, socketB, mark, f -> f.type().equals(EventType.ERROR)
                            || f.event().runId() != null,
                    "error run_not_found answering B's stop_agent of A's run", target.timeout);
            probe.expect(errorCode(stopAnswer).equals(ErrorCode.RUN_NOT_FOUND.code()),
                    "error run_not_found answering B's stop_agent of A's run", () -> Frames.excerpt(stopAnswer));

            mark = socketB.frameCount();
            socketB.send(MessageType.START_AGENT.wireName(), Json.object().put("user_request", "Who wrote this thread?")
                    .put("thread_id", run.threadId()), "validate-isolation-start-" + UUID.randomUUID());
            Received startAnswer = Frames.await(probe, socketB, mark, f -> f.type().equals(EventType.ERROR)
                            || f.event().runId() != null || Frames.isRunType(f.type()),
                    "error thread_not_found answering B's start_agent in A's thread", target.timeout);
            probe.expect(errorCode(startAnswer).equals(ErrorCode.THREAD_NOT_FOUND.code()),
                    "error thread_not_found answering B's start_agent in A's thread", () -> Frames.excerpt(startAnswer));

            Frames.barrier(probe, socketB, target.timeout);
            expectNothingOf(probe, socketB, run, "after B's resume, stop and start in A's thread");
        }
    }

    private static void expectNothingOf(Probe probe, ParleySocket socketB, RunCapture run, String when) {
        List<Received> leaked = socketB.frames().stream()
                .filter(f -> run.runId().equals(f.event().runId()) || run.threadId().equals(f.event().threadId())
                        || f.text().contains(run.runId()) && !f.type().equals(EventType.RESUME_FAILED)
                        && !f.type().equals(EventType.ERROR))
                .toList();
        probe.measure("b_frames_received", socketB.frameCount());
        probe.expect(leaked.isEmpty(), "none of A's events on B's socket " + when,
                () -> "B received " + Frames.summary(leaked) + ", first: " + Frames.excerpt(leaked.getFirst()));
    }

    private static void expect404(Probe probe, String what, Supplier<ApiResponse> call) {
        ApiResponse answer = call.get();
        probe.expect(answer.status() == 404, "B's " + what + " answers 404",
                () -> answer.status() + " " + Frames.excerpt(answer.body()));
    }

    private static String errorCode(Received frame) {
        return frame.type().equals(EventType.ERROR) ? frame.event().data().path("error").path("code").asText("") : "";
    }
}

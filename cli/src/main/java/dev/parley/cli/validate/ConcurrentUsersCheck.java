package dev.parley.cli.validate;

import dev.parley.client.ApiResponse;
import dev.parley.client.ParleySocket;
import dev.parley.client.ParleySocket.Received;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Phaser;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code concurrent_users}: N fresh users at once, each registering, loading the sample usage, creating a thread,
 * opening a socket and running the golden question in it. The runs start together (every user waits at a start line
 * with its socket open) and every socket stays open until all runs have ended, so that any event delivered to the
 * wrong user is seen. Latency percentiles cover registration, socket connect, first event and completion.
 */
final class ConcurrentUsersCheck {
    private static final int LISTED_FAILURES = 10;

    private ConcurrentUsersCheck() {
    }

    /** One user's figures (nanoseconds) and what went wrong for it, if anything. */
    private record UserOutcome(int index, Long registerNanos, Long connectNanos, Long firstEventNanos,
                               Long completionNanos, List<CheckResult.Mismatch> mismatches) {
    }

    static void run(Target target, Probe probe) throws InterruptedException {
        int users = target.options.users();
        // Two gates, each with every user registered as a party: the start line (all sockets open) and the finish
        // line (all runs ended). A user that fails early deregisters so that the others are not held up.
        Phaser start = new Phaser(users);
        Phaser finish = new Phaser(users);
        List<UserOutcome> outcomes = new ArrayList<>();
        long started = System.nanoTime();
        try (ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<UserOutcome>> futures = new ArrayList<>();
            for (int i = 1; i <= users; i++) {
                int index = i;
                futures.add(executor.submit(() -> oneUser(target, index, start, finish)));
            }
            // Each user's waits are bounded by the timeout: registration, connect, start line, first event,
            // completion, finish line and a ping; the bound below only guards against a stuck client.
            long bound = target.timeout.toNanos() * 8;
            for (Future<UserOutcome> future : futures) {
                long left = Math.max(0, started + bound - System.nanoTime());
                try {
                    outcomes.add(future.get(left, TimeUnit.NANOSECONDS));
                } catch (ExecutionException e) {
                    outcomes.add(new UserOutcome(futures.indexOf(future) + 1, null, null, null, null,
                            List.of(new CheckResult.Mismatch("the user's turn to run to its end",
                                    String.valueOf(e.getCause())))));
                } catch (TimeoutException e) {
                    future.cancel(true);
                    outcomes.add(new UserOutcome(futures.indexOf(future) + 1, null, null, null, null,
                            List.of(new CheckResult.Mismatch("the user's turn to end within "
                                    + bound / 1_000_000 + " ms", "still running"))));
                }
            }
        }
        probe.measure("users", users);
        long completed = outcomes.stream().filter(o -> o.mismatches().isEmpty()).count();
        probe.measure("users_passed", completed);
        probe.measure("wall_ms", Frames.millisBetween(started, System.nanoTime()));
        measure(probe, "register_ms", outcomes.stream().map(UserOutcome::registerNanos).toList());
        measure(probe, "connect_ms", outcomes.stream().map(UserOutcome::connectNanos).toList());
        measure(probe, "first_event_ms", outcomes.stream().map(UserOutcome::firstEventNanos).toList());
        measure(probe, "completion_ms", outcomes.stream().map(UserOutcome::completionNanos).toList());

        int listed = 0;
        int unlisted = 0;
        for (UserOutcome outcome : outcomes) {
            for (CheckResult.Mismatch mismatch : outcome.mismatches()) {
                if (listed < LISTED_FAILURES) {
                    probe.mismatch("user " + outcome.index() + ": " + mismatch.expected(), mismatch.actual());
                    listed++;
                } else {
                    unlisted++;
                }
            }
        }
        if (unlisted > 0) {
            probe.mismatch("every user's turn to pass", unlisted + " further mismatches not listed");
        }
    }

    private static void measure(Probe probe, String name, List<Long> nanos) {
        List<Long> present = nanos.stream().filter(n -> n != null).toList();
        if (present.isEmpty()) {
            return;
        }
        Percentiles figures = Percentiles.ofNanos(present);
        String stem = name.substring(0, name.length() - "_ms".length());
        probe.measure(stem + "_ms_p50", figures.p50());
        probe.measure(stem + "_ms_p95", figures.p95());
        probe.measure(stem + "_ms_max", figures.max());
        if (present.size() < nanos.size()) {
            probe.measure(stem + "_samples", present.size());
        }
    }

    private static UserOutcome oneUser(Target target, int index, Phaser start, Phaser finish) {
        Probe probe = new Probe();
        Long register = null;
        Long connect = null;
        Long firstEvent = null;
        Long completion = null;
        boolean atStart = false;
        boolean atFinish = false;
        try {
            Target.Registration registration = target.register("u" + index);
            register = registration.answer().elapsed().toNanos();
            if (!registration.ok()) {
                throw probe.fail("POST /auth/register answers 201", registration.describe());
            }
            Account account = registration.account();
            ApiResponse sample = target.http.loadSampleUsage(account.accessToken());
            probe.expect(sample.ok(), "POST /api/usage/sample answers 2xx",
                    () -> sample.status() + " " + Frames.excerpt(sample.body()));
            ApiResponse thread = target.http.createThread(account.accessToken(), "Validation " + index);
            String threadId = thread.json().path("id").asText("");
            if (thread.status() != 201 || threadId.isEmpty()) {
                throw probe.fail("POST /api/threads answers 201 with the thread's id",
                        thread.status() + " " + Frames.excerpt(thread.body()));
            }
            try (ParleySocket socket = target.open(account)) {
                connect = socket.handshakeTime().toNanos();
                RunChecks.awaitWelcome(probe, socket, target.timeout);
                atStart = true;
                awaitOthers(start, target, probe, "every user's socket open at the start line");
                RunCapture run = RunCapture.start(probe, socket, Target.GOLDEN_REQUEST, threadId, target.timeout);
                firstEvent = run.started().arrivedNanos() - run.sentNanos();
                run.awaitTerminal(probe, target.timeout);
                completion = run.terminal().arrivedNanos() - run.sentNanos();
                atFinish = true;
                awaitOthers(finish, target, probe, "every user's run ended");
                run.barrier(probe, target.timeout);
                List<Received> events = run.events();
                RunTranscript.violations(events, run.runId())
                        .forEach(v -> probe.mismatch("the run's events in the protocol's order and numbering", v));
                List<Received> foreign = run.foreign();
                probe.expect(foreign.isEmpty(), "no other user's events on this user's socket",
                        () -> "received " + Frames.summary(foreign));
            }
        } catch (Probe.Stop stop) {
            // recorded
        } catch (RuntimeException e) {
            probe.mismatch("the user's turn to run to its end", String.valueOf(e.getMessage()));
        } finally {
            if (!atStart) {
                start.arriveAndDeregister();
            }
            if (!atFinish) {
                finish.arriveAndDeregister();
            }
        }
        return new UserOutcome(index, register, connect, firstEvent, completion, probe.mismatches());
    }

    private static void awaitOthers(Phaser gate, Target target, Probe probe, String what) {
        int phase = gate.arrive();
        try {
            gate.awaitAdvanceInterruptibly(phase, target.timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw probe.fail(what + " within " + target.timeout.toMillis() + " ms", "other users were still behind");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw probe.fail(what, "interrupted");
        }
    }
}

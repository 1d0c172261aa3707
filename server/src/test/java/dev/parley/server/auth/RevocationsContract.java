package dev.parley.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link Revocations} does: an announced family reaches every current listener, closed subscriptions hear
 * nothing more, and one failing listener does not silence the others. Shared implementations deliver on their own
 * thread, so every check awaits with a timeout.
 */
abstract class RevocationsContract {
    private static final Duration WAIT = Duration.ofSeconds(5);

    private Revocations revocations;

    protected abstract Revocations create();

    @BeforeEach
    void setUp() {
        revocations = create();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (revocations instanceof AutoCloseable closeable) {
            closeable.close();
        }
    }

    @Test
    void announcedFamilyReachesEveryListener() throws Exception {
        LinkedBlockingQueue<String> first = new LinkedBlockingQueue<>();
        LinkedBlockingQueue<String> second = new LinkedBlockingQueue<>();
        try (Revocations.Subscription a = revocations.onFamilyRevoked(first::add);
             Revocations.Subscription b = revocations.onFamilyRevoked(second::add)) {
            revocations.announce("family-1");
            assertThat(first.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo("family-1");
            assertThat(second.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo("family-1");
        }
    }

    @Test
    void closedSubscriptionHearsNothingMore() throws Exception {
        List<String> closedOne = new CopyOnWriteArrayList<>();
        LinkedBlockingQueue<String> open = new LinkedBlockingQueue<>();
        Revocations.Subscription closing = revocations.onFamilyRevoked(closedOne::add);
        try (Revocations.Subscription staying = revocations.onFamilyRevoked(open::add)) {
            closing.close();
            revocations.announce("family-2");
            // Once the open listener has heard it, the closed one would have too.
            assertThat(open.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo("family-2");
            assertThat(closedOne).isEmpty();
        }
    }

    @Test
    void failingListenerDoesNotSilenceTheOthers() throws Exception {
        LinkedBlockingQueue<String> heard = new LinkedBlockingQueue<>();
        try (Revocations.Subscription failing = revocations.onFamilyRevoked(family -> {
                throw new IllegalStateException("listener bug");
            });
             Revocations.Subscription working = revocations.onFamilyRevoked(heard::add)) {
            revocations.announce("family-3");
            assertThat(heard.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo("family-3");
        }
    }

    @Test
    void sameListenerRegisteredTwiceIsRemovedOneRegistrationAtATime() throws Exception {
        LinkedBlockingQueue<String> heard = new LinkedBlockingQueue<>();
        java.util.function.Consumer<String> listener = heard::add;
        Revocations.Subscription first = revocations.onFamilyRevoked(listener);
        try (Revocations.Subscription second = revocations.onFamilyRevoked(listener)) {
            first.close();
            revocations.announce("family-4");
            assertThat(heard.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo("family-4");
        }
    }
}

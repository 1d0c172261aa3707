package dev.parley.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LocalRevocationsTest extends RevocationsContract {
    @Override
    protected Revocations create() {
        return new LocalRevocations();
    }

    @Test
    void listenersHaveHeardByTheTimeAnnounceReturns() {
        LocalRevocations revocations = new LocalRevocations();
        List<String> heard = new ArrayList<>();
        revocations.onFamilyRevoked(heard::add);
        revocations.announce("family");
        assertThat(heard).containsExactly("family");
    }
}

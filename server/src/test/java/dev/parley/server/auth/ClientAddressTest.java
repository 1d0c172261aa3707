package dev.parley.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ClientAddressTest {
    @Test
    void withoutForwardedForTheSocketAddressIsTheClient() {
        assertThat(ClientAddress.resolve(List.of(), "10.1.2.3", 0)).isEqualTo("10.1.2.3");
        assertThat(ClientAddress.resolve(List.of(" ", ""), "10.1.2.3", 1)).isEqualTo("10.1.2.3");
    }

    @Test
    void withoutTrustedProxiesTheHeaderIsIgnored() {
        assertThat(ClientAddress.resolve(List.of("203.0.113.7, 10.0.0.1"), "10.9.9.9", 0)).isEqualTo("10.9.9.9");
        assertThat(ClientAddress.resolve(List.of("203.0.113.7", "10.0.0.1"), "10.9.9.9", 0)).isEqualTo("10.9.9.9");
        assertThat(ClientAddress.resolve(List.of("2001:DB8::1"), "2001:DB8::2", 0)).isEqualTo("2001:db8::2");
    }

    @Test
    void withTrustedProxiesTheHopTheyAppendedIsTheClient() {
        // The client forged the first entry; the one proxy in front appended what it saw.
        List<String> header = List.of("1.1.1.1, 203.0.113.7");
        assertThat(ClientAddress.resolve(header, "10.9.9.9", 1)).isEqualTo("203.0.113.7");
        assertThat(ClientAddress.resolve(List.of("1.1.1.1, 203.0.113.7, 130.211.0.1"), "10.9.9.9", 2))
                .isEqualTo("203.0.113.7");
        assertThat(ClientAddress.resolve(List.of("203.0.113.7"), "10.9.9.9", 2)).isEqualTo("10.9.9.9");
    }

    @Test
    void hugeEntriesAreCut() {
        assertThat(ClientAddress.resolve(List.of("x".repeat(1000)), "10.9.9.9", 1)).hasSize(64);
    }
}

package dev.parley.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class EmailAddressesTest {
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "ada@example.org|ada@example.org",
            "  Ada@Example.ORG \t|ada@example.org",
            "first.last+tag@mail.example.co.uk|first.last+tag@mail.example.co.uk",
            "o'brien@example.ie|o'brien@example.ie",
            "J\u00dcRGEN@M\u00dcNCHEN.example|j\u00fcrgen@m\u00fcnchen.example",
            "x@a-b.io|x@a-b.io",
            "dev@parley.local|dev@parley.local"})
    void validAddressesAreNormalised(String raw, String stored) {
        assertThat(EmailAddresses.requireValid(raw)).isEqualTo(stored);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "   ", "plain", "@example.org", "ada@", "ada@example", "ada@@example.org",
            "a@b@example.org", "ada lovelace@example.org", ".ada@example.org", "ada.@example.org", "a..b@example.org",
            "ada@example..org", "ada@-example.org", "ada@example-.org", "ada@exa_mple.org", "ada@[127.0.0.1]",
            "ada@127.0.0.1", "\"ada\"@example.org", "ada\u0000@example.org", "ada@example.org\nBcc: x@example.org"})
    void invalidAddressesAreRefused(String raw) {
        assertThatThrownBy(() -> EmailAddresses.requireValid(raw))
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_EMAIL));
    }

    @ParameterizedTest
    @ValueSource(ints = {65, 80})
    void overlongLocalPartsAreRefused(int length) {
        assertThatThrownBy(() -> EmailAddresses.requireValid("a".repeat(length) + "@example.org"))
                .isInstanceOf(ProtocolException.class);
        assertThat(EmailAddresses.requireValid("a".repeat(64) + "@example.org")).hasSize(76);
    }

    @Test
    void addressesUpTo254CharactersAreAccepted() {
        String local = "a".repeat(64);
        String accepted = local + "@" + "d".repeat(63) + "." + "d".repeat(63) + "." + "d".repeat(57) + ".org";
        assertThat(accepted).hasSize(254);
        assertThat(EmailAddresses.requireValid(accepted)).isEqualTo(accepted);
        String refused = local + "@" + "d".repeat(63) + "." + "d".repeat(63) + "." + "d".repeat(58) + ".org";
        assertThatThrownBy(() -> EmailAddresses.requireValid(refused)).isInstanceOf(ProtocolException.class)
                .hasMessageContaining("longer than 254");
    }
}

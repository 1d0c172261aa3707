package dev.parley.server.db;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class IdsTest {
    @Test
    void anIdIsAVersion7UuidCarryingItsMillisecond() {
        long before = System.currentTimeMillis();
        UUID id = UUID.fromString(Ids.timeOrdered());
        long after = System.currentTimeMillis();

        assertThat(id.version()).isEqualTo(7);
        assertThat(id.variant()).isEqualTo(2);
        assertThat(id.getMostSignificantBits() >>> 16).isBetween(before, after);
    }

    @Test
    void idsOfLaterMillisecondsSortAfterEarlierOnesAsText() {
        List<String> ids = new ArrayList<>();
        for (long millis = 1_700_000_000_000L; millis < 1_700_000_000_000L + 2_000; millis += 7) {
            ids.add(Ids.timeOrdered(millis).toString());
        }

        assertThat(ids).isSorted();
    }

    @Test
    void idsOfTheSameMillisecondDifferInTheirRandomBits() {
        var seen = new HashSet<String>();
        for (int i = 0; i < 10_000; i++) {
            seen.add(Ids.timeOrdered(1_700_000_000_000L).toString());
        }

        assertThat(seen).hasSize(10_000);
    }
}

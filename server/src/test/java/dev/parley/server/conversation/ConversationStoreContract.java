package dev.parley.server.conversation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.db.Database;
import dev.parley.server.testing.Accounts;
import dev.parley.server.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What {@link ConversationStore} does on every database it runs on; each subclass opens a fresh, migrated one. */
abstract class ConversationStoreContract {
    private final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
    private Database database;
    private ConversationStore store;
    private String alice;
    private String bob;

    protected abstract Database open();

    @BeforeEach
    void setUp() {
        database = open();
        store = new ConversationStore(database.sql(), clock);
        alice = Accounts.insertUser(database);
        bob = Accounts.insertUser(database);
    }

    @AfterEach
    void tearDown() {
        database.close();
    }

    @Test
    void threadsAreListedMostRecentlyUpdatedFirstWithTotalAndPaging() {
        ChatThread first = store.createThread(alice, "first");
        clock.advance(Duration.ofSeconds(1));
        ChatThread second = store.createThread(alice, "second");
        clock.advance(Duration.ofSeconds(1));
        ChatThread third = store.createThread(alice, "  third  ");
        store.createThread(bob, "bob's");
        clock.advance(Duration.ofSeconds(1));
        store.appendMessage(alice, first.id(), ChatMessage.USER, "hello", null);

        ThreadPage page = store.listThreads(alice, 2, 0);
        assertThat(page.total()).isEqualTo(3);
        assertThat(page.threads()).extracting(ChatThread::id).containsExactly(first.id(), third.id());
        assertThat(page.threads().get(0).messageCount()).isEqualTo(1);
        assertThat(page.threads().get(0).updatedAt()).isEqualTo(clock.instant());
        assertThat(page.threads().get(1).title()).isEqualTo("third");
        assertThat(store.listThreads(alice, 2, 2).threads()).extracting(ChatThread::id).containsExactly(second.id());
        assertThat(store.listThreads(bob, 10, 0).total()).isEqualTo(1);
    }

    @Test
    void someoneElsesThreadDoesNotExistForAnyOperation() {
        ChatThread thread = store.createThread(alice, "private");
        assertThat(store.findThread(bob, thread.id())).isEmpty();
        assertThatThrownBy(() -> store.requireThread(bob, thread.id())).isInstanceOfSatisfying(ProtocolException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.THREAD_NOT_FOUND));
        assertThatThrownBy(() -> store.renameThread(bob, thread.id(), "mine")).isInstanceOf(ProtocolException.class);
        assertThatThrownBy(() -> store.appendMessage(bob, thread.id(), ChatMessage.USER, "x", null))
                .isInstanceOf(ProtocolException.class);
        assertThatThrownBy(() -> store.messages(bob, thread.id(), 10, null)).isInstanceOf(ProtocolException.class);
        assertThat(store.deleteThread(bob, thread.id())).isFalse();
        assertThat(store.requireThread(alice, thread.id()).title()).isEqualTo("private");
        assertThat(store.requireThread(alice, thread.id()).messageCount()).isZero();
    }

    @Test
    void messagesPageBackwardsAndComeOldestFirst() {
        ChatThread thread = store.createThread(alice, "t");
        List<ChatMessage> written = new java.util.ArrayList<>();
        for (int i = 0; i < 5; i++) {
            written.add(store.appendMessage(alice, thread.id(), i % 2 == 0 ? ChatMessage.USER : ChatMessage.ASSISTANT,
                    "m" + i, null));
        }
        assertThat(store.messages(alice, thread.id(), 3, null)).extracting(ChatMessage::content)
                .containsExactly("m2", "m3", "m4");
        assertThat(store.messages(alice, thread.id(), 3, written.get(2).id())).extracting(ChatMessage::content)
                .containsExactly("m0", "m1");
        assertThat(store.messages(alice, thread.id(), 50, null)).hasSize(5);
        ChatThread other = store.createThread(alice, "other");
        assertThatThrownBy(() -> store.messages(alice, other.id(), 3, written.get(2).id()))
                .isInstanceOfSatisfying(ProtocolException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_REQUEST));
        assertThat(store.requireThread(alice, thread.id()).messageCount()).isEqualTo(5);
    }

    @Test
    void renameAndDeleteChangeOnlyTheOwnersThread() {
        ChatThread thread = store.createThread(alice, null);
        assertThat(thread.title()).isEqualTo("New conversation");
        clock.advance(Duration.ofSeconds(5));
        ChatThread renamed = store.renameThread(alice, thread.id(), "Renamed");
        assertThat(renamed.title()).isEqualTo("Renamed");
        assertThat(renamed.updatedAt()).isAfter(thread.updatedAt());
        store.appendMessage(alice, thread.id(), ChatMessage.USER, "hello", null);
        assertThat(store.deleteThread(alice, thread.id())).isTrue();
        assertThat(store.findThread(alice, thread.id())).isEmpty();
        assertThat(store.deleteThread(alice, thread.id())).isFalse();
    }

    @Test
    void titlesComeFromTheRequestsFirstWords() {
        assertThat(Titles.fromRequest("How do I cut my cloud bill in half this quarter without breaking anything"))
                .isEqualTo("How do I cut my cloud bill in…");
        assertThat(Titles.fromRequest("   ")).isEqualTo("New conversation");
        assertThat(Titles.fromRequest("short one")).isEqualTo("short one");
        assertThat(Titles.fromRequest("x".repeat(100))).hasSize(61).endsWith("…");
    }
}

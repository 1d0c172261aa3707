package dev.parley.server.conversation;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.db.Ids;
import dev.parley.server.db.Sql;
import dev.parley.server.db.Writes;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * Threads and their messages, in the relational database (embedded SQLite or PostgreSQL: the same SQL runs on both).
 * Every read and write is scoped to the owning user: a thread of someone else is indistinguishable from one that
 * does not exist, so callers answer {@code thread_not_found} / 404 for both. Stateless and thread-safe.
 */
public final class ConversationStore {
    private static final String THREAD_COLUMNS = "id, user_id, title, created_at, updated_at, message_count";
    private static final String MESSAGE_COLUMNS = "id, thread_id, role, content, run_id, created_at";
    /** The writes of a turn, for a {@link Writes} that runs them in batches: parents first. */
    public static final String INSERT_THREAD =
            "INSERT INTO threads (id, user_id, title, created_at, updated_at, message_count) VALUES (?, ?, ?, ?, ?, ?)";
    public static final String COUNT_MESSAGE =
            "UPDATE threads SET message_count = message_count + 1, updated_at = ? WHERE id = ? AND user_id = ?";
    public static final String INSERT_MESSAGE =
            "INSERT INTO messages (id, thread_id, user_id, role, content, run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)";

    private final Sql sql;
    private final Clock clock;

    public ConversationStore(Sql sql, Clock clock) {
        this.sql = sql;
        this.clock = clock;
    }

    public ChatThread createThread(String userId, String title) {
        return sql.withConnection(connection -> createThread(connection, userId, title));
    }

    /** Creates a thread inside the caller's transaction. */
    public ChatThread createThread(Connection connection, String userId, String title) throws SQLException {
        return createThread(connection, userId, title, 0);
    }

    /**
     * Creates a thread inside the caller's transaction, counting {@code messageCount} messages that the same
     * transaction inserts with {@link #insertMessage} (one statement instead of one more per message).
     */
    public ChatThread createThread(Connection connection, String userId, String title, int messageCount)
            throws SQLException {
        Writes writes = new Writes(List.of());
        ChatThread thread = createThread(writes, userId, title, messageCount);
        writes.flush(connection);
        return thread;
    }

    /** Queues a new thread; see {@link #createThread(Connection, String, String, int)}. */
    public ChatThread createThread(Writes writes, String userId, String title, int messageCount) {
        return createThread(writes, Ids.timeOrdered(), userId, title, messageCount);
    }

    /** Queues a new thread with the given id (a new {@link Ids#timeOrdered()} one). */
    public ChatThread createThread(Writes writes, String threadId, String userId, String title, int messageCount) {
        Instant now = clock.instant();
        ChatThread thread = new ChatThread(threadId, userId, Titles.normalize(title), now, now, messageCount);
        writes.add(INSERT_THREAD, thread.id(), userId, thread.title(), now, now, messageCount);
        return thread;
    }

    /** The thread inside the caller's transaction, or {@code thread_not_found}; see {@link #requireThread}. */
    public ChatThread requireThread(Connection connection, String userId, String threadId) throws SQLException {
        return findThread(connection, userId, threadId).orElseThrow(ConversationStore::threadNotFound);
    }

    private static Optional<ChatThread> findThread(Connection connection, String userId, String threadId)
            throws SQLException {
        return Sql.query(connection, "SELECT " + THREAD_COLUMNS + " FROM threads WHERE id = ? AND user_id = ?",
                ConversationStore::thread, threadId, userId).stream().findFirst();
    }

    /** The latest {@code limit} messages of a thread, oldest first, inside the caller's transaction. */
    public List<ChatMessage> latestMessages(Connection connection, String threadId, int limit) throws SQLException {
        List<ChatMessage> oldestFirst = new ArrayList<>(Sql.query(connection, "SELECT " + MESSAGE_COLUMNS
                + " FROM messages WHERE thread_id = ? ORDER BY position DESC LIMIT ?", ConversationStore::message,
                threadId, limit));
        Collections.reverse(oldestFirst);
        return oldestFirst;
    }

    /** The thread if it exists and belongs to the user. */
    public Optional<ChatThread> findThread(String userId, String threadId) {
        if (threadId == null) {
            return Optional.empty();
        }
        return sql.withConnection(connection -> findThread(connection, userId, threadId));
    }

    /** The thread, or {@code thread_not_found} when it does not exist or belongs to someone else. */
    public ChatThread requireThread(String userId, String threadId) {
        return findThread(userId, threadId).orElseThrow(ConversationStore::threadNotFound);
    }

    public ThreadPage listThreads(String userId, int limit, int offset) {
        return sql.withConnection(connection -> {
            List<ChatThread> threads = Sql.query(connection,
                    "SELECT " + THREAD_COLUMNS + " FROM threads WHERE user_id = ? "
                            + "ORDER BY updated_at DESC, created_at DESC, id DESC LIMIT ? OFFSET ?",
                    ConversationStore::thread, userId, limit, offset);
            long total = Sql.query(connection, "SELECT COUNT(*) FROM threads WHERE user_id = ?",
                    row -> row.getLong(1), userId).getFirst();
            return new ThreadPage(threads, total);
        });
    }

    public ChatThread renameThread(String userId, String threadId, String title) {
        int changed = sql.update("UPDATE threads SET title = ?, updated_at = ? WHERE id = ? AND user_id = ?",
                Titles.normalize(title), clock.instant(), threadId, userId);
        if (changed == 0) {
            throw threadNotFound();
        }
        return requireThread(userId, threadId);
    }

    /** Deletes the thread with its messages, runs and run events; false when there was no such thread. */
    public boolean deleteThread(String userId, String threadId) {
        return sql.update("DELETE FROM threads WHERE id = ? AND user_id = ?", threadId, userId) > 0;
    }

    /**
     * Appends a message inside the caller's transaction, counting it on the thread and moving the thread's
     * {@code updated_at}. The thread must exist and belong to {@code userId}.
     */
    public ChatMessage appendMessage(Connection connection, String userId, String threadId, String role,
                                     String content, String runId) throws SQLException {
        Writes writes = new Writes(List.of(COUNT_MESSAGE, INSERT_MESSAGE));
        ChatMessage message = appendMessage(writes, userId, threadId, role, content, runId);
        writes.flush(connection);
        return message;
    }

    /** Queues a message and its count on the thread; the flush throws {@code thread_not_found} when it is gone. */
    public ChatMessage appendMessage(Writes writes, String userId, String threadId, String role, String content,
                                     String runId) {
        Instant now = clock.instant();
        countMessage(writes, userId, threadId, now);
        return insertMessage(writes, userId, threadId, Ids.timeOrdered(), role, content, runId, now);
    }

    /** Queues one more message on the thread and the move of its {@code updated_at}, or {@code thread_not_found}. */
    public void countMessage(Writes writes, String userId, String threadId, Instant now) {
        writes.expectOneRow(COUNT_MESSAGE, ConversationStore::threadNotFound, now, threadId, userId);
    }

    /** Queues a message that the caller counted on its thread ({@link #countMessage}, or when creating it). */
    public ChatMessage insertMessage(Writes writes, String userId, String threadId, String messageId, String role,
                                     String content, String runId, Instant now) {
        writes.add(INSERT_MESSAGE, messageId, threadId, userId, role, content, runId, now);
        return new ChatMessage(messageId, threadId, role, content, runId, now);
    }

    public ChatMessage appendMessage(String userId, String threadId, String role, String content, String runId) {
        return sql.inTransaction(connection -> appendMessage(connection, userId, threadId, role, content, runId));
    }

    /**
     * Up to {@code limit} messages of the thread, oldest first: the latest ones, or when {@code beforeMessageId} is
     * given, the latest ones written before that message.
     *
     * @throws ProtocolException {@code thread_not_found} for a thread that is not the user's, {@code invalid_request}
     *                           when {@code beforeMessageId} names no message of the thread
     */
    public List<ChatMessage> messages(String userId, String threadId, int limit, String beforeMessageId) {
        requireThread(userId, threadId);
        if (beforeMessageId == null) {
            return sql.withConnection(connection -> latestMessages(connection, threadId, limit));
        }
        Optional<Long> position = sql.queryOne("SELECT position FROM messages WHERE id = ? AND thread_id = ?",
                row -> row.getLong(1), beforeMessageId, threadId);
        if (position.isEmpty()) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST,
                    "The parameter 'before' names no message of this thread.");
        }
        List<ChatMessage> newestFirst = sql.query("SELECT " + MESSAGE_COLUMNS + " FROM messages WHERE thread_id = ? "
                + "AND position < ? ORDER BY position DESC LIMIT ?", ConversationStore::message, threadId,
                position.get(), limit);
        List<ChatMessage> oldestFirst = new ArrayList<>(newestFirst);
        Collections.reverse(oldestFirst);
        return oldestFirst;
    }

    static ProtocolException threadNotFound() {
        return new ProtocolException(ErrorCode.THREAD_NOT_FOUND, "There is no such thread.");
    }

    private static ChatThread thread(ResultSet row) throws SQLException {
        return new ChatThread(row.getString("id"), row.getString("user_id"), row.getString("title"),
                Sql.instant(row, "created_at"), Sql.instant(row, "updated_at"), row.getInt("message_count"));
    }

    private static ChatMessage message(ResultSet row) throws SQLException {
        return new ChatMessage(row.getString("id"), row.getString("thread_id"), row.getString("role"),
                row.getString("content"), row.getString("run_id"), Sql.instant(row, "created_at"));
    }
}

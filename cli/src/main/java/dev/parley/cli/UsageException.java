package dev.parley.cli;

/** Arguments a command cannot accept; the command exits with status 2 after printing the message and its usage. */
public final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public UsageException(String message) {
        super(message);
    }
}

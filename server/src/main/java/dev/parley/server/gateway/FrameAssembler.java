package dev.parley.server.gateway;

/**
 * Joins a client message's text frames into the whole message, within the socket's size limit: a message that grows
 * past it is reported once and its remaining frames are dropped. Used by the socket's reader thread only.
 */
final class FrameAssembler {
    private final int maxBytes;
    private final StringBuilder fragments = new StringBuilder();
    private int bytes;
    private boolean discarding;

    FrameAssembler(int maxBytes) {
        this.maxBytes = maxBytes;
    }

    /**
     * Adds one frame's text. Returns the whole message when {@code last} ends it, and null while more is to come or
     * when the message went over the limit; {@code tooLarge} runs at the frame that took it over.
     */
    String add(String text, boolean last, Runnable tooLarge) {
        if (!discarding) {
            bytes += SendQueue.utf8Length(text);
            if (bytes > maxBytes) {
                discarding = true;
                fragments.setLength(0);
                tooLarge.run();
                return null;
            }
            fragments.append(text);
        }
        if (!last) {
            return null;
        }
        String message = fragments.toString();
        fragments.setLength(0);
        bytes = 0;
        if (discarding) {
            discarding = false;
            return null;
        }
        return message;
    }
}

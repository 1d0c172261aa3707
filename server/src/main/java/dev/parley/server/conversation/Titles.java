package dev.parley.server.conversation;

/** Titles of threads: the one made from a request's first words, and the checks on a title a user sets. */
public final class Titles {
    /** The longest title, in characters (the column holds 200). */
    public static final int MAX_CHARS = 200;
    static final String UNTITLED = "New conversation";
    private static final int MAX_WORDS = 8;
    private static final int MAX_DERIVED_CHARS = 60;

    private Titles() {
    }

    /** A title from the first words of a request: at most eight words and about sixty characters. */
    public static String fromRequest(String request) {
        String[] words = request == null ? new String[0] : request.strip().split("\\s+");
        StringBuilder title = new StringBuilder();
        boolean cut = false;
        for (int i = 0; i < words.length; i++) {
            String word = words[i];
            if (word.isEmpty()) {
                continue;
            }
            if (i >= MAX_WORDS || title.length() + 1 + word.length() > MAX_DERIVED_CHARS) {
                cut = true;
                break;
            }
            if (!title.isEmpty()) {
                title.append(' ');
            }
            title.append(word);
        }
        if (title.isEmpty()) {
            if (words.length > 0 && !words[0].isEmpty()) {
                // One very long word: keep its beginning.
                return words[0].substring(0, Math.min(words[0].length(), MAX_DERIVED_CHARS)) + "…";
            }
            return UNTITLED;
        }
        return cut ? title + "…" : title.toString();
    }

    /** A title as stored: trimmed, never blank. */
    static String normalize(String title) {
        if (title == null || title.isBlank()) {
            return UNTITLED;
        }
        String trimmed = title.strip();
        return trimmed.length() > MAX_CHARS ? trimmed.substring(0, MAX_CHARS) : trimmed;
    }
}

package dev.parley.cli.validate;

/** A user the validator acts as. {@code password} is null for a user given by token; {@code userId} may be null until /auth/me answered. */
record Account(String email, String password, String accessToken, String userId) {
    Account withUserId(String id) {
        return new Account(email, password, accessToken, id);
    }

    @Override
    public String toString() {
        // Never print secrets: reports and progress lines show accounts by email only.
        return "Account[" + email + "]";
    }
}

package dev.parley.cli.validate;

import dev.parley.client.ApiResponse;
import dev.parley.client.Credentials;
import dev.parley.client.ParleyHttp;

/** The three ways a socket presents its access token (protocol §2), in the order the server tries them. */
enum SocketForm {
    BEARER("socket.bearer"),
    SUBPROTOCOL("socket.subprotocol"),
    TICKET("socket.ticket");

    private final String checkId;

    SocketForm(String checkId) {
        this.checkId = checkId;
    }

    String checkId() {
        return checkId;
    }

    /** The credentials for one new socket; a ticket form first asks for a fresh single-use ticket. */
    Credentials credentials(ParleyHttp http, Account account) {
        return switch (this) {
            case BEARER -> new Credentials.BearerHeader(account.accessToken());
            case SUBPROTOCOL -> new Credentials.Subprotocol(account.accessToken());
            case TICKET -> {
                ApiResponse answer = http.ticket(account.accessToken());
                String ticket = answer.json().path("ticket").asText("");
                if (answer.status() != 201 || ticket.isEmpty()) {
                    throw new IllegalStateException("POST /api/websocket/ticket answered " + answer.status() + " "
                            + Frames.excerpt(answer.body()));
                }
                yield new Credentials.Ticket(ticket);
            }
        };
    }
}

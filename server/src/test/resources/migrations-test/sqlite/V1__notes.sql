-- A comment; with a semicolon in it.
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL DEFAULT 'a;b'); /* a block; comment */
INSERT INTO notes (body) VALUES ('it''s; here');
INSERT INTO notes (id) VALUES (2);

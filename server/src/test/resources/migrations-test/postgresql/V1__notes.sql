-- A comment; with a semicolon in it.
CREATE TABLE notes (id SERIAL PRIMARY KEY, body TEXT NOT NULL DEFAULT 'a;b'); /* a block; comment */
INSERT INTO notes (body) VALUES ('it''s; here');
CREATE FUNCTION note_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM notes; $$;
SELECT setval(pg_get_serial_sequence('notes', 'id'), 10);
DO $body$
BEGIN
    INSERT INTO notes (body) VALUES ('x;y');
END
$body$;

package dev.parley.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The page's Markdown renderer, run in the browser on the page itself (under its Content-Security-Policy and
 * Trusted Types): the structures answers use, and hostile input that must stay text.
 */
class MarkdownRendererTest {
    /** Renders arguments[0] with the page's own module and answers {html, text, elements, pwned}. */
    private static final String RENDER = """
            const done = arguments[arguments.length - 1];
            const source = arguments[0];
            const app = document.querySelector('script[type=module]').src;
            import(app.replace(/app\\.js$/, 'markdown.js')).then((module) => {
              const root = document.createElement('div');
              root.appendChild(module.renderMarkdown(source, { headingOffset: 2 }));
              document.body.appendChild(root);
              const result = {
                html: root.innerHTML,
                text: root.textContent,
                elements: [...root.querySelectorAll('*')].map((e) => e.tagName.toLowerCase()),
                pwned: window.pwned === true,
              };
              root.remove();
              setTimeout(() => done(JSON.stringify({ ...result, pwnedLater: window.pwned === true })), 100);
            }, (error) => done(JSON.stringify({ error: String(error) })));
            """;

    @RegisterExtension
    static final Pages pages = new Pages();

    private static Browser browser;

    @BeforeAll
    static void start() {
        ChatPage page = pages.open(pages.start(Map.of()));
        browser = page.browser();
        page.open();
    }

    private static JsonNode render(String markdown) {
        JsonNode result = Json.parse((String) browser.asyncScript(RENDER, markdown));
        assertThat(result.has("error")).as(result.path("error").asText()).isFalse();
        return result;
    }

    @Test
    void rendersTheStructuresOfAnAnswer() {
        JsonNode result = render("""
                ## Where your money goes

                You made **8,664** requests costing **$126.90** with `gpt-4o` and *some* others.

                | Model | Requests | Cost |
                |---|---:|:---:|
                | gpt-4o | 1,478 | $14.38 |
                | claude \\| opus | 231 | `$70.91` |

                1. **Move to lighter models**: about $98.53 less
                   - claude-opus-4-1 → claude-sonnet-4-5
                   - snake_case_names stay_as_they_are
                2. Batch the `summarization` calls

                ```sql
                SELECT 1 < 2;
                ```

                > Prices of the catalog dated 2026-11-28.

                ---
                See [the catalog](https://example.org/prices).
                """);

        String html = result.path("html").asText();
        assertThat(html)
                .contains("<h4>Where your money goes</h4>")
                .contains("<strong>8,664</strong>", "<code>gpt-4o</code>", "<em>some</em>")
                .contains("<th scope=\"col\" class=\"align-right\">Requests</th>")
                .contains("<td class=\"align-center\"><code>$70.91</code></td>")
                .contains("<td>claude | opus</td>")
                .contains("<ol><li><strong>Move to lighter models</strong>: about $98.53 less<ul><li>claude-opus-4-1")
                .contains("snake_case_names stay_as_they_are")
                .contains("<pre><code class=\"language-sql\">SELECT 1 &lt; 2;</code></pre>")
                .contains("<blockquote><p>Prices of the catalog dated 2026-11-28.</p></blockquote>", "<hr>")
                .contains("<a href=\"https://example.org/prices\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">"
                        + "the catalog</a>");
        assertThat(html).contains("<div class=\"table-wrap\"><table>");
    }

    @Test
    void htmlAndScriptInTheSourceStayText() {
        String hostile = """
                <img src=x onerror="window.pwned = true"> <script>window.pwned = true</script>
                **<b onmouseover="window.pwned = true">bold</b>** `<iframe src=javascript:window.pwned=true>`
                [click](javascript:window.pwned=true) [data](data:text/html,<script>window.pwned=true</script>)
                # <svg onload="window.pwned = true">
                | <style>body{display:none}</style> | x |
                |---|---|
                | <a href="javascript:window.pwned=true">a</a> | y |
                """;
        JsonNode result = render(hostile);

        assertThat(result.path("pwned").asBoolean()).isFalse();
        assertThat(result.path("pwnedLater").asBoolean()).isFalse();
        assertThat(result.path("elements").toString())
                .doesNotContain("\"img\"", "\"script\"", "\"iframe\"", "\"svg\"", "\"style\"", "\"b\"", "\"a\"");
        assertThat(result.path("text").asText())
                .contains("<img src=x onerror=\"window.pwned = true\">", "<script>window.pwned = true</script>",
                        "<svg onload=\"window.pwned = true\">", "click", "data");
        assertThat(result.path("html").asText()).doesNotContainPattern("<(a|img|script|iframe|svg|style|b)[\\s>]");
    }

    @Test
    void unfinishedMarkupWhileStreamingIsShownAsItIs() {
        JsonNode result = render("The **total is `$12");
        assertThat(result.path("html").asText()).isEqualTo("<p>The **total is `$12</p>");

        JsonNode fence = render("```\nSELECT *");
        assertThat(fence.path("html").asText()).isEqualTo("<pre><code>SELECT *</code></pre>");
    }
}

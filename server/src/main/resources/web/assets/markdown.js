// A small, safe Markdown renderer: headings, paragraphs, bold and italic, inline code and fenced code blocks,
// ordered and unordered lists (nested by indentation), tables with alignment, block quotes, rules, and http(s)
// links. It builds DOM nodes directly: every piece of the source ends up in a text node or an attribute that
// was checked, so HTML in the source is shown as text and can never become markup.

const MAX_DEPTH = 12;
const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const ITEM = /^([ \t]*)([-*+]|\d{1,9}[.)])(?:[ \t]+(.*)|$)/;
const TABLE_SEPARATOR = /^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/;
const SAFE_LINK = /^(?:https?:\/\/|mailto:)/i;

/**
 * Renders Markdown into a DocumentFragment.
 * @param {string} source the Markdown text (partial text while streaming is fine)
 * @param {{headingOffset?: number, document?: Document}} options headingOffset shifts heading levels (h1 → h3 with 2)
 */
export function renderMarkdown(source, options = {}) {
  const doc = options.document || document;
  const context = { doc, headingOffset: Math.max(0, Math.min(5, options.headingOffset || 0)) };
  const lines = String(source ?? '').replace(/\r\n?/g, '\n').split('\n');
  const fragment = doc.createDocumentFragment();
  blocks(lines, fragment, context, 0);
  return fragment;
}

function blocks(lines, parent, context, depth) {
  const { doc } = context;
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    let match = FENCE.exec(line);
    if (match) {
      i = codeBlock(lines, i, match, parent, doc);
      continue;
    }
    match = HEADING.exec(line);
    if (match) {
      const level = Math.min(6, match[1].length + context.headingOffset);
      const heading = doc.createElement('h' + level);
      inline(match[2] || '', heading, doc, 0);
      parent.appendChild(heading);
      i++;
      continue;
    }
    if (RULE.test(line)) {
      parent.appendChild(doc.createElement('hr'));
      i++;
      continue;
    }
    if (isTableStart(lines, i)) {
      i = table(lines, i, parent, doc);
      continue;
    }
    if (QUOTE.test(line) && depth < MAX_DEPTH) {
      const inner = [];
      while (i < lines.length && lines[i].trim() && QUOTE.test(lines[i])) {
        inner.push(QUOTE.exec(lines[i])[1]);
        i++;
      }
      const quote = doc.createElement('blockquote');
      blocks(inner, quote, context, depth + 1);
      parent.appendChild(quote);
      continue;
    }
    if (ITEM.test(line) && depth < MAX_DEPTH) {
      i = list(lines, i, parent, context, depth);
      continue;
    }
    i = paragraph(lines, i, parent, doc);
  }
}

function startsBlock(lines, i) {
  const line = lines[i];
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line)
    || isTableStart(lines, i);
}

function paragraph(lines, i, parent, doc) {
  const text = [];
  while (i < lines.length && lines[i].trim() && (text.length === 0 || !startsBlock(lines, i))) {
    text.push(lines[i].trim());
    i++;
  }
  const p = doc.createElement('p');
  text.forEach((line, index) => {
    if (index > 0) {
      p.appendChild(doc.createTextNode('\n'));
    }
    inline(line, p, doc, 0);
  });
  parent.appendChild(p);
  return i;
}

function codeBlock(lines, i, open, parent, doc) {
  const fence = open[1];
  const body = [];
  i++;
  while (i < lines.length) {
    const line = lines[i];
    const trimmed = line.trim();
    if (trimmed.startsWith(fence[0].repeat(fence.length)) && /^(`+|~+)$/.test(trimmed) && trimmed[0] === fence[0]) {
      i++;
      break;
    }
    body.push(line);
    i++;
  }
  const pre = doc.createElement('pre');
  const code = doc.createElement('code');
  const language = (open[2] || '').toLowerCase();
  if (/^[a-z0-9+#-]{1,20}$/.test(language)) {
    code.className = 'language-' + language;
  }
  code.textContent = body.join('\n');
  pre.appendChild(code);
  parent.appendChild(pre);
  return i;
}

function isTableStart(lines, i) {
  return i + 1 < lines.length && lines[i].includes('|') && TABLE_SEPARATOR.test(lines[i + 1])
    && lines[i + 1].includes('-') && (lines[i + 1].includes('|') || lines[i].trim().startsWith('|'));
}

function table(lines, i, parent, doc) {
  const header = cells(lines[i]);
  const alignments = cells(lines[i + 1]).map((cell) => {
    const left = cell.startsWith(':');
    const right = cell.endsWith(':');
    return left && right ? 'center' : right ? 'right' : left ? 'left' : null;
  });
  i += 2;
  const wrap = doc.createElement('div');
  wrap.className = 'table-wrap';
  const tableElement = doc.createElement('table');
  const head = doc.createElement('thead');
  const headRow = doc.createElement('tr');
  header.forEach((text, column) => headRow.appendChild(cell('th', text, alignments[column], doc)));
  head.appendChild(headRow);
  tableElement.appendChild(head);
  const body = doc.createElement('tbody');
  while (i < lines.length && lines[i].trim() && lines[i].includes('|')) {
    const row = doc.createElement('tr');
    const values = cells(lines[i]);
    for (let column = 0; column < header.length; column++) {
      row.appendChild(cell('td', values[column] ?? '', alignments[column], doc));
    }
    body.appendChild(row);
    i++;
  }
  tableElement.appendChild(body);
  wrap.appendChild(tableElement);
  parent.appendChild(wrap);
  return i;
}

function cell(tag, text, alignment, doc) {
  const element = doc.createElement(tag);
  if (tag === 'th') {
    element.scope = 'col';
  }
  if (alignment) {
    element.className = 'align-' + alignment;
  }
  inline(text, element, doc, 0);
  return element;
}

/** Splits a table row on the pipes that are not escaped and not inside a code span. */
function cells(line) {
  let text = line.trim();
  if (text.startsWith('|')) {
    text = text.slice(1);
  }
  if (text.endsWith('|') && !text.endsWith('\\|')) {
    text = text.slice(0, -1);
  }
  const result = [];
  let current = '';
  let inCode = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && text[i + 1] === '|') {
      current += '|';
      i++;
    } else if (c === '`') {
      inCode = !inCode;
      current += c;
    } else if (c === '|' && !inCode) {
      result.push(current.trim());
      current = '';
    } else {
      current += c;
    }
  }
  result.push(current.trim());
  return result;
}

function list(lines, i, parent, context, depth) {
  const { doc } = context;
  const first = ITEM.exec(lines[i]);
  const indent = width(first[1]);
  const ordered = /\d/.test(first[2]);
  const listElement = doc.createElement(ordered ? 'ol' : 'ul');
  if (ordered) {
    const start = parseInt(first[2], 10);
    if (start !== 1) {
      listElement.start = start;
    }
  }
  while (i < lines.length) {
    const match = ITEM.exec(lines[i]);
    if (!match || width(match[1]) !== indent || /\d/.test(match[2]) !== ordered) {
      break;
    }
    const content = [match[3] || ''];
    let loose = false;
    i++;
    while (i < lines.length) {
      const line = lines[i];
      if (!line.trim()) {
        const next = nextNonBlank(lines, i);
        if (next < 0 || leading(lines[next]) <= indent) {
          break;
        }
        loose = true;
        content.push('');
        i++;
        continue;
      }
      const sibling = ITEM.exec(line);
      if (leading(line) > indent) {
        content.push(line);
        i++;
      } else if (!sibling && !startsBlock(lines, i) && content[content.length - 1] !== '') {
        content.push(line.trim()); // a lazy continuation line of the item's paragraph
        i++;
      } else {
        break;
      }
    }
    const item = doc.createElement('li');
    blocks(dedent(content), item, context, depth + 1);
    if (!loose && item.firstChild && item.firstChild.nodeName === 'P') {
      const p = item.firstChild;
      while (p.firstChild) {
        item.insertBefore(p.firstChild, p);
      }
      item.removeChild(p);
    }
    listElement.appendChild(item);
  }
  parent.appendChild(listElement);
  return i;
}

function dedent(lines) {
  const indents = lines.slice(1).filter((line) => line.trim()).map(leading);
  const common = indents.length ? Math.min(...indents) : 0;
  return lines.map((line, index) => (index === 0 ? line : line.slice(Math.min(common, leading(line)))));
}

function nextNonBlank(lines, i) {
  for (let j = i; j < lines.length; j++) {
    if (lines[j].trim()) {
      return j;
    }
  }
  return -1;
}

function leading(line) {
  return width(/^[ \t]*/.exec(line)[0]);
}

function width(whitespace) {
  let n = 0;
  for (const c of whitespace) {
    n += c === '\t' ? 4 : 1;
  }
  return n;
}

/** Inline Markdown: code spans, strong, emphasis, links, backslash escapes; everything else is text. */
function inline(text, parent, doc, depth) {
  let buffer = '';
  const flush = () => {
    if (buffer) {
      parent.appendChild(doc.createTextNode(buffer));
      buffer = '';
    }
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length && PUNCTUATION.test(text[i + 1])) {
      buffer += text[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      let n = 1;
      while (text[i + n] === '`') {
        n++;
      }
      const close = closingTicks(text, i + n, n);
      if (close >= 0) {
        flush();
        let content = text.slice(i + n, close);
        if (content.length > 2 && content.startsWith(' ') && content.endsWith(' ') && content.trim()) {
          content = content.slice(1, -1);
        }
        const code = doc.createElement('code');
        code.textContent = content;
        parent.appendChild(code);
        i = close + n;
      } else {
        buffer += '`'.repeat(n);
        i += n;
      }
      continue;
    }
    if (depth < MAX_DEPTH && (text.startsWith('**', i) || text.startsWith('__', i))) {
      const marker = text.slice(i, i + 2);
      const close = closing(text, i + 2, marker);
      if (close > i + 2 && (marker === '**' || wordBoundary(text, i, close + 2))) {
        flush();
        const strong = doc.createElement('strong');
        inline(text.slice(i + 2, close), strong, doc, depth + 1);
        parent.appendChild(strong);
        i = close + 2;
        continue;
      }
    }
    if (depth < MAX_DEPTH && (c === '*' || c === '_') && text[i + 1] !== c) {
      const close = closing(text, i + 1, c);
      if (close > i + 1 && (c === '*' || wordBoundary(text, i, close + 1))) {
        flush();
        const em = doc.createElement('em');
        inline(text.slice(i + 1, close), em, doc, depth + 1);
        parent.appendChild(em);
        i = close + 1;
        continue;
      }
    }
    if (c === '[' && depth < MAX_DEPTH) {
      const link = linkAt(text, i);
      if (link) {
        flush();
        if (SAFE_LINK.test(link.href)) {
          const a = doc.createElement('a');
          a.href = link.href;
          a.rel = 'noopener noreferrer nofollow';
          a.target = '_blank';
          inline(link.label, a, doc, depth + 1);
          parent.appendChild(a);
        } else {
          inline(link.label, parent, doc, depth + 1);
        }
        i = link.end;
        continue;
      }
    }
    buffer += c;
    i++;
  }
  flush();
}

function closingTicks(text, from, n) {
  let i = from;
  while (i < text.length) {
    const at = text.indexOf('`'.repeat(n), i);
    if (at < 0) {
      return -1;
    }
    let run = n;
    while (text[at + run] === '`') {
      run++;
    }
    if (run === n && text[at - 1] !== '`') {
      return at;
    }
    i = at + run;
  }
  return -1;
}

/** The index of the closing marker: the inner text may not start or end with whitespace. */
function closing(text, from, marker) {
  if (from >= text.length || /\s/.test(text[from])) {
    return -1;
  }
  let i = from;
  while (i < text.length) {
    const at = text.indexOf(marker, i);
    if (at < 0) {
      return -1;
    }
    if (marker.length === 1 && text[at + 1] === marker) {
      i = at + 2; // part of a double marker: not ours
      continue;
    }
    if (at > from && !/\s/.test(text[at - 1]) && text[at - 1] !== '\\') {
      return at;
    }
    i = at + 1;
  }
  return -1;
}

/** Underscore emphasis only between word boundaries, so that snake_case names stay as they are. */
function wordBoundary(text, start, end) {
  const before = start > 0 ? text[start - 1] : ' ';
  const after = end < text.length ? text[end] : ' ';
  return !/[\p{L}\p{N}]/u.test(before) && !/[\p{L}\p{N}]/u.test(after);
}

function linkAt(text, i) {
  let depth = 0;
  let j = i;
  for (; j < text.length; j++) {
    if (text[j] === '\\') {
      j++;
    } else if (text[j] === '[') {
      depth++;
    } else if (text[j] === ']') {
      depth--;
      if (depth === 0) {
        break;
      }
    }
  }
  if (j >= text.length || text[j + 1] !== '(') {
    return null;
  }
  let close = -1;
  for (let k = j + 2, open = 0; k < text.length; k++) {
    if (text[k] === '(') {
      open++;
    } else if (text[k] === ')') {
      if (open === 0) {
        close = k;
        break;
      }
      open--;
    }
  }
  if (close < 0) {
    return null;
  }
  const href = text.slice(j + 2, close).trim();
  if (!href || /\s/.test(href)) {
    return null;
  }
  return { label: text.slice(i + 1, j), href, end: close + 1 };
}

// Building the page's elements with DOM calls only: text always goes into text nodes, never into markup.

/** Creates an element with a class and optional text. */
export function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) {
    element.className = className;
  }
  if (text !== undefined && text !== null) {
    element.textContent = String(text);
  }
  return element;
}

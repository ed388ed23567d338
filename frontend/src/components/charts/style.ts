const SVG = 'http://www.w3.org/2000/svg';

/** How the page's CSS draws an SVG path of some classes, in the terms a canvas takes. */
export interface PathStyle {
  stroke: string;
  fill: string;
  width: number;
  dash: number[];
  font: string;
}

/**
 * pathStyle reads how styles.css would draw an SVG <path> of these classes inside root. uPlot
 * paints on a canvas, which CSS cannot reach: reading computed styles keeps styles.css the one
 * place for the charts' colors, dashes and fonts, its dark scheme included.
 */
export function pathStyle(root: Element, className: string): PathStyle {
  const svg = document.createElementNS(SVG, 'svg');
  svg.style.display = 'none'; // computed values resolve without a box
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('class', className);
  svg.append(path);
  root.append(svg);
  const cs = getComputedStyle(path);
  const style = {
    stroke: cs.stroke,
    fill: canvasColor(cs.fill),
    width: parseFloat(cs.strokeWidth) || 1,
    dash: cs.strokeDasharray === 'none' ? [] : cs.strokeDasharray.split(/[\s,]+/).map(parseFloat),
    font: `${cs.fontSize} ${cs.fontFamily}`,
  };
  svg.remove();
  return style;
}

let scratch: CanvasRenderingContext2D | null | undefined;

// A computed color-mix() serializes as color(srgb …), which not every canvas parses: a fill the
// canvas refuses is left out rather than drawn in whatever color the canvas had before.
function canvasColor(css: string): string {
  scratch ??= document.createElement('canvas').getContext('2d');
  if (!scratch) return css;
  scratch.fillStyle = 'transparent';
  const refused = scratch.fillStyle;
  scratch.fillStyle = css;
  return scratch.fillStyle === refused ? 'transparent' : css;
}

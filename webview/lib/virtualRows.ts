/**
 * A virtualised list of fixed-height rows: only the rows in (and just around) the viewport exist
 * in the DOM, recycled from a small pool as the user scrolls, so 10,000 layers cost ~60 elements.
 * Positions are set through the CSSOM (element.style), which the CSP allows; no inline style text.
 */
export interface VirtualRowsOptions {
  viewport: HTMLElement;
  rowHeight: number;
  overscan: number;
  createRow(): HTMLElement;
  /** Fill a pooled row element for `index`; called on every render of a visible row. */
  renderRow(el: HTMLElement, index: number): void;
  /** Told the visible range after each render so the owner can fetch missing data. */
  onRange(first: number, last: number): void;
}

export class VirtualRows {
  private readonly spacer: HTMLElement;
  private readonly layer: HTMLElement;
  private readonly pool: HTMLElement[] = [];
  private total = 0;
  private scheduled = false;

  constructor(private readonly o: VirtualRowsOptions) {
    this.spacer = document.createElement('div');
    this.spacer.className = 'virtual-spacer';
    this.layer = document.createElement('div');
    this.layer.className = 'virtual-layer';
    this.spacer.append(this.layer);
    o.viewport.append(this.spacer);
    o.viewport.addEventListener('scroll', () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(o.viewport);
  }

  setTotal(total: number): void {
    this.total = total;
    this.spacer.style.height = `${total * this.o.rowHeight}px`;
    this.schedule();
  }

  get scrollTop(): number {
    return this.o.viewport.scrollTop;
  }

  set scrollTop(v: number) {
    this.o.viewport.scrollTop = v;
    this.schedule();
  }

  /** Render on the next frame (coalesces scroll bursts). */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.render();
    });
  }

  render(): void {
    const { rowHeight, overscan } = this.o;
    const height = this.o.viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.o.viewport.scrollTop / rowHeight) - overscan);
    const last = Math.min(this.total, Math.ceil((this.o.viewport.scrollTop + height) / rowHeight) + overscan);
    const count = Math.max(0, last - first);
    while (this.pool.length < count) {
      const el = this.o.createRow();
      this.pool.push(el);
      this.layer.append(el);
    }
    this.layer.style.transform = `translateY(${first * rowHeight}px)`;
    this.pool.forEach((el, i) => {
      if (i < count) {
        el.hidden = false;
        this.o.renderRow(el, first + i);
      } else {
        el.hidden = true;
      }
    });
    if (count > 0) this.o.onRange(first, last - 1);
  }
}

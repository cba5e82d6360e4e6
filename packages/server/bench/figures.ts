/**
 * Figures printed beside their goals, with the ratio; kept for a summary table at the end.
 * Nothing is asserted: a missed goal is printed as such and the bench carries on.
 */

export interface Goal {
  /** `min`: the figure should be at least `value`; `max`: at most. */
  readonly kind: "min" | "max";
  readonly value: number;
}

interface Figure {
  readonly section: string;
  readonly label: string;
  readonly text: string;
  readonly goal: string;
}

const fmt = (v: number, digits: number) =>
  Number.isFinite(v) ? v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : String(v);

export class Figures {
  private readonly all: Figure[] = [];
  section = "";

  /** Prints `label: value unit (goal ≥ g: 1.23× goal, met)` and keeps it for the summary. */
  add(label: string, value: number, unit: string, goal?: Goal, note = "", digits = value >= 100 ? 0 : 1): void {
    const text = `${fmt(value, digits)} ${unit}`.trim();
    let goalText = "";
    if (goal) {
      const ratio = value / goal.value;
      const met = goal.kind === "min" ? value >= goal.value : value <= goal.value;
      goalText = `${goal.kind === "min" ? "≥" : "≤"} ${fmt(goal.value, 0)} ${unit}: ${ratio.toFixed(2)}× goal, ${met ? "met" : "NOT met"}`;
    }
    console.log(`  ${label}: ${text}${goalText ? `   (goal ${goalText})` : ""}${note ? `   ${note}` : ""}`);
    this.all.push({ section: this.section, label, text, goal: goalText });
  }

  note(text: string): void {
    console.log(`  ${text}`);
  }

  /** Starts a section: `title` is printed, `short` names it in the summary. */
  heading(title: string, short: string): void {
    this.section = short;
    console.log(`\n${title}`);
  }

  /** Every figure with a goal, as a Markdown table (for docs/benchmarks.md). */
  printSummary(): void {
    console.log("\n## Summary: figures with goals\n\n| ledger / phase | figure | measured | goal |\n|---|---|---|---|");
    for (const f of this.all.filter((x) => x.goal)) console.log(`| ${f.section} | ${f.label} | ${f.text} | ${f.goal} |`);
  }
}

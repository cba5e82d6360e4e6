import { type ReactNode, useMemo, useState } from "react";

export interface Column<Row> {
  readonly key: string;
  readonly label: string;
  readonly numeric?: boolean;
  /** What the column sorts by (numbers compare as numbers, decimal text as its value). */
  readonly sortValue: (row: Row) => string | number | null | undefined;
  readonly render: (row: Row) => ReactNode;
}

/** A table whose headers sort it; numbers sort largest first on the first click. */
export function SortableTable<Row>({
  columns,
  rows,
  rowKey,
  initialSort,
  onRowClick,
  footer,
  testId,
}: {
  columns: readonly Column<Row>[];
  rows: readonly Row[];
  rowKey: (row: Row) => string;
  initialSort: { key: string; desc: boolean };
  onRowClick?: (row: Row) => void;
  footer?: ReactNode;
  testId?: string;
}) {
  const [sort, setSort] = useState(initialSort);
  const sorted = useMemo(() => {
    const col = columns.find((c) => c.key === sort.key);
    if (!col) return rows;
    const out = [...rows];
    out.sort((a, b) => {
      const x = col.sortValue(a);
      const y = col.sortValue(b);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      const cmp = col.numeric ? Number(x) - Number(y) : String(x).localeCompare(String(y));
      return sort.desc ? -cmp : cmp;
    });
    return out;
  }, [rows, columns, sort]);
  return (
    <table data-testid={testId}>
      <thead>
        <tr>
          {columns.map((c) => (
            <th
              key={c.key}
              className={c.numeric ? "num" : undefined}
              aria-sort={sort.key === c.key ? (sort.desc ? "descending" : "ascending") : "none"}
            >
              <button
                type="button"
                className="sort"
                onClick={() => setSort((s) => (s.key === c.key ? { key: c.key, desc: !s.desc } : { key: c.key, desc: !!c.numeric }))}
              >
                {c.label}
                {sort.key === c.key ? (sort.desc ? " ↓" : " ↑") : ""}
              </button>
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {sorted.map((r) => (
          <tr key={rowKey(r)} className={onRowClick ? "clickable" : undefined} onClick={onRowClick ? () => onRowClick(r) : undefined}>
            {columns.map((c) => (
              <td key={c.key} className={c.numeric ? "num" : "truncate"}>
                {c.render(r)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
      {footer}
    </table>
  );
}

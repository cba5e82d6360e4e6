import { type FormEvent, useState } from "react";
import { DIMENSIONS, dimensionLabel } from "../api/dimensions.js";

/** The filters of a view, one chip each, from its URL: `column=value` (repeated for "or"). */
export function FilterChips({
  filters,
  onRemove,
}: {
  filters: ReadonlyArray<{ column: string; values: readonly string[] }>;
  onRemove: (column: string) => void;
}) {
  return (
    <>
      {filters.map((f) => (
        <span className="chip" key={f.column} data-filter={f.column}>
          {dimensionLabel(f.column)} = {f.values.join(" or ")}
          <button type="button" aria-label={`Remove the filter on ${dimensionLabel(f.column)}`} onClick={() => onRemove(f.column)}>
            ×
          </button>
        </span>
      ))}
    </>
  );
}

export function FilterAdder({ onAdd, tagKeys }: { onAdd: (column: string, value: string) => void; tagKeys: readonly string[] }) {
  const [column, setColumn] = useState("feature");
  const [value, setValue] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim() === "") return;
    onAdd(column, value.trim());
    setValue("");
  };
  return (
    <form className="chips" onSubmit={submit} aria-label="Add a filter">
      <select value={column} onChange={(e) => setColumn(e.target.value)} aria-label="Filter on">
        <DimensionOptions tagKeys={tagKeys} />
      </select>
      <span className="muted">=</span>
      <input value={value} onChange={(e) => setValue(e.target.value)} placeholder="value" aria-label="Filter value" size={16} />
      <button type="submit" disabled={value.trim() === ""}>
        Add filter
      </button>
    </form>
  );
}

export function DimensionOptions({ tagKeys }: { tagKeys: readonly string[] }) {
  return (
    <>
      <optgroup label="Columns">
        {DIMENSIONS.map((d) => (
          <option key={d} value={d}>
            {dimensionLabel(d)}
          </option>
        ))}
      </optgroup>
      {tagKeys.length > 0 && (
        <optgroup label="Tags">
          {tagKeys.map((k) => (
            <option key={k} value={`tag.${k}`}>
              {k}
            </option>
          ))}
        </optgroup>
      )}
    </>
  );
}

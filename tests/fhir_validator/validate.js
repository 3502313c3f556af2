// Validate FHIR R4 resources with the `fhir` package (lantanagroup/FHIR.js), independently of
// fhir.resources: reads a JSON array of resources on stdin, prints one result per resource
// ({valid, messages}) as a JSON array.
const { Fhir } = require("fhir");
const fhir = new Fhir();
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const results = JSON.parse(input).map((resource) => {
    const result = fhir.validate(resource, { errorOnUnexpected: true });
    return { valid: result.valid, messages: result.messages.filter((m) => m.severity === "error") };
  });
  process.stdout.write(JSON.stringify(results));
});

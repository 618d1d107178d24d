// Lists models with the official OpenAI SDK, configured only by the environment
// (OPENAI_API_KEY, OPENAI_BASE_URL).  Prints one model id per line; exits non-zero on any error.
import OpenAI from "openai";

const client = new OpenAI({ maxRetries: 0, timeout: 20000 });
try {
    let n = 0;
    for await (const m of client.models.list()) {
        console.log(m.id);
        n++;
    }
    if (n === 0) throw new Error("no models listed");
} catch (err) {
    const status = err?.status ? ` (HTTP ${err.status})` : "";
    console.error(`models.mjs: listing models failed${status}: ${err?.message ?? err}`);
    process.exit(1);
}

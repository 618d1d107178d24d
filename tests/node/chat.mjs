// One non-streaming and one streaming chat completion with the official OpenAI SDK, configured
// only by the environment (OPENAI_API_KEY, OPENAI_BASE_URL) exactly as a user's program would be.
// Prints the two answers; exits non-zero on any error.  Never prints the key.
//
//   node chat.mjs [PROMPT]
// SMTOKEN_MODEL picks the model name sent (default "demo-model").
import OpenAI from "openai";

const prompt = process.argv[2] ?? "Say hello to smtoken.";
const model = process.env.SMTOKEN_MODEL || "demo-model";

function fail(what, err) {
    // APIError messages hold the status and the server's error body, never the request's headers.
    const status = err?.status ? ` (HTTP ${err.status})` : "";
    console.error(`chat.mjs: ${what} failed${status}: ${err?.message ?? err}`);
    process.exit(1);
}

// Key and base URL deliberately come from the environment; no retries so a refusal shows at once.
const client = new OpenAI({ maxRetries: 0, timeout: 20000 });

let answer;
try {
    const r = await client.chat.completions.create({
        model,
        messages: [{ role: "user", content: prompt }],
    });
    answer = r.choices?.[0]?.message?.content;
    if (typeof answer !== "string" || answer.length === 0)
        throw new Error("the response has no message content");
} catch (err) {
    fail("chat completion", err);
}
console.log(`chat: ${answer}`);

let streamed = "";
let chunks = 0;
let finish = null;
try {
    const stream = await client.chat.completions.create({
        model,
        messages: [{ role: "user", content: prompt }],
        stream: true,
    });
    for await (const chunk of stream) {
        chunks++;
        const choice = chunk.choices?.[0];
        if (choice?.delta?.content) streamed += choice.delta.content;
        if (choice?.finish_reason) finish = choice.finish_reason;
    }
    if (chunks < 2) throw new Error(`expected several chunks, got ${chunks}`);
    if (finish !== "stop") throw new Error(`stream ended without finish_reason "stop"`);
    if (streamed.length === 0) throw new Error("the stream carried no content");
} catch (err) {
    fail("streaming chat completion", err);
}
console.log(`stream: ${streamed} [${chunks} chunks]`);

// Screenshots of the Sync app for the README, taken with headless Chromium over the DevTools
// protocol (no dependency: Node >= 20 with --experimental-websocket).
//
//   node --experimental-websocket docs/screenshots/take_screenshots.mjs http://127.0.0.1:8069 [names]
//
// Logs in as admin/admin and writes docs/screenshots/*.png. Pages (name, path, selector that
// shows the page is rendered, viewport height) are listed in PAGES; a path with "{webhook}" or
// "{client}" opens the first record of that kind; [names] (comma-separated) takes only those.
import { spawn } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const BASE = process.argv[2] || "http://127.0.0.1:8069";
const ONLY = process.argv[3] ? process.argv[3].split(",") : null; // e.g. settings,overview
const OUT = dirname(fileURLToPath(import.meta.url));
const PORT = 9300 + Math.floor(Math.random() * 500);
const PAGES = [
    ["settings", "/odoo/action-api_sync.action_api_sync_config_settings", "#api_sync_webhook_allow_http", 1850],
    ["client_form", "/odoo/action-api_sync.action_api_sync_client/{client}", ".o_form_view .o_field_widget[name=identifier]"],
    ["overview", "/odoo/action-api_sync.action_api_sync_overview", ".o_api_sync_card"],
    ["deliveries", "/odoo/action-api_sync.action_api_sync_delivery", ".o_list_view .o_data_row"],
    ["failed_deliveries", "/odoo/action-api_sync.action_api_sync_delivery_failed", ".o_list_view .o_data_row"],
    ["webhook_form", "/odoo/action-api_sync.action_api_sync_webhook/{webhook}", ".o_form_view .o_field_domain"],
    ["product_sync_status", "/odoo/action-point_of_sale.product_template_action_pos_product/{product}", "button[name=action_api_sync_status]", 900,
        `document.querySelector("button[name=action_api_sync_status]").click();`, ".modal .o_data_row"],
    // the Allowed Models picker: "res.partner" typed in a new line of a client
    ["client_model_picker", "/odoo/action-api_sync.action_api_sync_client/{client}", ".o_field_x2many_list_row_add a", 900,
        `document.querySelector(".o_field_x2many_list_row_add a").click();
         let input;
         while (!(input = document.querySelector(".o_selected_row [name=model_id] input"))) {
             await new Promise((resolve) => requestAnimationFrame(resolve));
         }
         input.value = "res.partner"; input.dispatchEvent(new Event("input", { bubbles: true }));`,
        ".o-autocomplete--dropdown-menu .o-autocomplete--dropdown-item"],
];

const chrome = spawn("chromium", [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
    `--remote-debugging-port=${PORT}`, "--window-size=1440,1000",
    `--user-data-dir=${mkdtempSync(join(tmpdir(), "api-sync-shots-"))}`, "about:blank",
], { stdio: "ignore" });

async function until(check, what, seconds = 120) {
    const end = Date.now() + seconds * 1000;
    for (;;) {
        const value = await check().catch(() => undefined);
        if (value) return value;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

const targets = await until(async () => (await fetch(`http://127.0.0.1:${PORT}/json/list`)).json(), "chromium");
const socket = new WebSocket(targets.find((t) => t.type === "page").webSocketDebuggerUrl);
await new Promise((resolve) => socket.addEventListener("open", resolve));
let nextId = 0;
const waiting = new Map();
socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (waiting.has(message.id)) {
        waiting.get(message.id)(message);
        waiting.delete(message.id);
    }
});
function send(method, params = {}) {
    const id = ++nextId;
    socket.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => waiting.set(id, (m) => (m.error ? reject(new Error(m.error.message)) : resolve(m.result))));
}
async function evaluate(expression) {
    const { result } = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
    return result.value;
}
async function open(path, selector) {
    await send("Page.navigate", { url: BASE + path });
    await until(() => evaluate(`!!document.querySelector(${JSON.stringify(selector)}) && !document.querySelector(".o_loading_indicator, .o_blockUI")`), selector);
}

await send("Page.enable");
await send("Emulation.setDeviceMetricsOverride", { width: 1440, height: 1000, deviceScaleFactor: 1, mobile: false });
await open("/web/login", "form.oe_login_form");
await evaluate(`document.querySelector("#login").value = "admin"; document.querySelector("#password").value = "admin"; document.querySelector("form.oe_login_form").submit(); true`);
await until(() => evaluate(`location.pathname.startsWith("/odoo")`), "login");
const firstId = (model, domain = []) => evaluate(`fetch("/web/dataset/call_kw", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({jsonrpc: "2.0", method: "call", params: {model: "${model}", method: "search", args: [${JSON.stringify(domain)}], kwargs: {limit: 1, order: "id"}}})})
    .then((r) => r.json()).then((r) => r.result[0])`);
const ids = {
    webhook: await firstId("api.sync.webhook"),
    client: await firstId("api.sync.client"),
    // a product with deliveries (make run DEMO=1 and webhooks on product.template)
    product: await firstId("product.template", [["default_code", "=like", "DEMO-%"]]),
};
for (const [name, path, selector, height, script, scriptSelector] of PAGES) {
    if (ONLY && !ONLY.includes(name)) continue;
    await send("Emulation.setDeviceMetricsOverride", { width: 1440, height: height || 900, deviceScaleFactor: 1, mobile: false });
    await open(path.replace(/\{(\w+)\}/, (_m, kind) => ids[kind]), selector);
    if (script) {
        await evaluate(`(async () => { ${script} return true; })()`);
        await until(() => evaluate(`!!document.querySelector(${JSON.stringify(scriptSelector)})`), scriptSelector);
    }
    await evaluate("new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))");
    const { data } = await send("Page.captureScreenshot", { format: "png" });
    writeFileSync(join(OUT, `${name}.png`), Buffer.from(data, "base64"));
    console.log(`docs/screenshots/${name}.png`);
}
socket.close();
chrome.kill();

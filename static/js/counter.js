// The counter page: one plain counter socket, as counter-ws.md describes.
const root = document.querySelector("[data-counter]");
const name = root.dataset.counter;
const valueEl = root.querySelector(".counter-value");
const stateEl = root.querySelector("[data-state]");
const errorEl = root.querySelector("[data-error]");
const amountEl = root.querySelector("input[name=amount]");
let socket = null;
let retry = 1000;

function setState(state) {
  stateEl.textContent = state;
  root.dataset.state = state.toLowerCase();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/counter/${encodeURIComponent(name)}`);
  socket.addEventListener("open", () => { retry = 1000; setState("Connected"); });
  socket.addEventListener("message", (message) => {
    const event = JSON.parse(message.data);
    if (event.type === "error") { errorEl.textContent = event.message; return; }
    if (typeof event.value === "number") { valueEl.textContent = event.value; errorEl.textContent = ""; }
  });
  socket.addEventListener("close", () => {
    setState("Reconnecting");
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 30000);
  });
}

root.querySelector("[data-controls]").addEventListener("click", (click) => {
  const op = click.target.dataset?.op;
  if (!op || !socket || socket.readyState !== WebSocket.OPEN) return;
  const number = Number.parseInt(amountEl.value, 10);
  const message = { type: op };
  if (op === "increment" || op === "decrement") message.amount = number;
  if (op === "setValue") message.value = number;
  socket.send(JSON.stringify(message));
});

connect();

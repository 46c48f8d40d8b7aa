// Run by the page as soon as it is read, before its modules have loaded: the dashboard's meta data (levels, years,
// grid levels) are asked for at once, so the first page does not wait for maplibre to load before it can ask.
// app.js takes this answer once (and asks again itself when it failed).
window.leefbaarBoot = { meta: fetch("/api/meta", { headers: { Accept: "application/json" } }) };

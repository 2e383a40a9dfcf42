import http from "k6/http";
import { sleep, check } from "k6";

export let options = {
  stages: [
    { duration: "5m", target: 100 }, // ramp up
    { duration: "30m", target: 100 }, // stay
    { duration: "5m", target: 0 }, // ramp down
  ],
  thresholds: {
    "http_req_duration": ["p(90) < 400", "p(95) < 800", "p(99.9) < 2000"],
    "checks": ["rate>0.99"],
    "http_req_duration{name:/items}": ["avg<300", "med<250", "max<5000", "min<100"],
  },
  summaryTrendStats: ["avg", "p(90)", "p(95)", "p(99.9)"],
};

export default function () {
  const r = http.get(__ENV.HOST + "/items", { tags: { name: "/items" } });
  check(r, { ok: (res) => res.status == 200 });
  sleep(Math.random() * 3);
}

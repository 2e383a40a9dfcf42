import http from 'k6/http';
import type { Options } from 'k6/options';

export const options = {
  scenarios: {
    api: {
      executor: 'ramping-vus',
      stages: [
        { duration: '20s', target: 15 },
        { duration: '1m', target: 15 },
        { duration: '20s', target: 0 },
      ],
    },
  },
  thresholds: {
    'http_req_duration{name:/propose_trade_adjustments/}': ['p(95)<1500'],
  },
} satisfies Options;

export default function () {
  http.post('http://127.0.0.1:8000/propose_trade_adjustments/', '{}', {
    tags: { name: '/propose_trade_adjustments/' },
  });
}

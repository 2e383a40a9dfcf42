import http from 'k6/http';
import { Options } from 'k6/options';

export const options: Options = {
  scenarios: {
    main: {
      executor: 'constant-vus',
      vu: 5, // should be vus
      duration: '30s',
      gracefulStop: '0s',
    },
  },
  thresholds: {
    http_req_duration: [{ threshold: 'p(95)<300', abortOnfail: true }],
  },
};

export default function () {
  http.get('http://127.0.0.1:8000/health');
}

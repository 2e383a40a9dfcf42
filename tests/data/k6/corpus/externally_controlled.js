import http from 'k6/http';

export const options = {
  scenarios: {
    live: {
      executor: 'externally-controlled',
      vus: 2,
      maxVUs: 50,
      duration: '10m',
    },
  },
};

export default function () {
  http.get('http://127.0.0.1:8000/health');
}

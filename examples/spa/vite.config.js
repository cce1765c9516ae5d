import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run build` writes dist/, which `crust dev --spa examples/spa/dist` serves on the
// API's own origin (so the refresh cookie and the CSRF header need no CORS at all).
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true },
});

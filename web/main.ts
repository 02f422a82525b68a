import 'maplibre-gl/dist/maplibre-gl.css';
import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { setupI18n } from './lib/i18n.ts';

setupI18n();
mount(App, { target: document.getElementById('app')! });

declare module 'geojson-validation' {
  const gjv: {
    valid(obj: unknown): boolean;
    isFeature(obj: unknown, trace: true): string[] | boolean;
    isFeatureCollection(obj: unknown, trace: true): string[] | boolean;
  };
  export default gjv;
}

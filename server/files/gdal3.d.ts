// gdal3.js declares only its browser entry; the Node build has the same API.
declare module 'gdal3.js/node.js' {
  import init from 'gdal3.js';
  export default init;
}

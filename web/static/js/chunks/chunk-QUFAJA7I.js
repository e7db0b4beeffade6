var n=null,o=[],t=()=>n;function c(e){n=e;for(let l of o)l(e)}function r(e){o.push(e)}export{t as a,c as b,r as c};
